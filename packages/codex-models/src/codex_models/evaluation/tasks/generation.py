"""The ``generation`` task: continue jsonl prompts, score the continuations against
references with text metrics.

The data file holds one row a line: ``{"id"?, "prompt", "reference"}`` or
``{"id"?, "prompt", "references": [...]}`` (several acceptable answers; each metric takes
the best over them, or all of them for BLEU/chrF). A row without an id has the id of its
row number, from 0 (see :mod:`codex_models.evaluation.tasks.rows`). The unit of the
metrics is a row.

The model writes one continuation per row (``lm.generate``, greedy at temperature 0), cut
before the first ``stop`` string. The default stop is a newline: references are usually
one line (an answer, a translation), and a small model that keeps going after its answer
would otherwise lose every exact match; give ``stop=[]`` to generate up to
``max_new_tokens`` (or the end-of-sequence token).

With ``--predictions`` the given completions are scored instead, exactly one per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codex_core.config.paths import ConfigPath
from codex_core.config.schema import ComponentRef
from codex_core.errors import CodexError
from codex_core.evaluation import EvalRequest, TaskResult, check_predictions
from codex_core.protocols import metric_inputs
from codex_models.evaluation.tasks.rows import Row, default_context, read_rows, string_field, string_list

EXAMPLE = '{"id": "q1", "prompt": "2 + 2 =", "reference": " 4"}'
DEFAULT_METRICS = ("exact-match", "squad-f1", "bleu", "chrf")
_CHUNK = 64  # prompts per generate call (progress is reported after each)


class GenerationParams(BaseModel):
    """Params of the ``generation`` task."""

    model_config = ConfigDict(extra="forbid")

    path: ConfigPath = Field(description='jsonl rows {"id"?, "prompt", "reference"} or {"id"?, "prompt", '
                             '"references": [...]} (relative to the config file that sets it)')
    max_new_tokens: int = Field(64, ge=1, description="the longest continuation, in tokens")
    temperature: float = Field(0.0, ge=0.0, description="sampling temperature; 0 is greedy")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="nucleus sampling: keep this much probability")
    top_k: int | None = Field(None, ge=1, description="sample among the k most likely tokens")
    stop: list[str] = Field(["\n"], description="cut each continuation before the first of these "
                            "(default: a newline, for one-line references; [] for none)")
    metrics: list[ComponentRef] = Field(
        default_factory=lambda: list(DEFAULT_METRICS), validate_default=True,
        description="text metrics ({name, params} or a bare name); default exact-match, squad-f1, bleu, chrf")


def build_text_metrics(context: Any, refs: Sequence[ComponentRef], task: str) -> list[Any]:
    """Fresh instances of ``refs`` through the registry; a metric that does not score text
    is a one-line error."""
    metrics = []
    for ref in refs:
        metric = context.build("metric", ref)
        if "text" not in metric_inputs(metric):
            raise CodexError(f"metric {ref.name!r} scores token ids, not text; the {task} task needs text metrics",
                             hint="e.g. exact-match, squad-f1, bleu, chrf, rouge-l")
        metrics.append(metric)
    return metrics


def sample_scores(scorers: Sequence[Any], n: int) -> list[dict[str, float]]:
    """Per unit, each scorer's values on that unit alone (``compute_from`` of its own
    statistic: sentence-level BLEU, that row's exact match, ...); scorers without
    statistics are left out."""
    scores: list[dict[str, float]] = [{} for _ in range(n)]
    for scorer in scorers:
        if not (hasattr(scorer, "sample_stats") and hasattr(scorer, "compute_from")):
            continue
        for i, stat in enumerate(scorer.sample_stats()):
            scores[i].update({k: float(v) for k, v in scorer.compute_from([stat]).items()})
    return scores


class GenerationTask:
    """The ``generation`` task (implements ``codex_core.protocols.Task``; see the module
    docstring)."""

    def __init__(self, params: GenerationParams, context: Any = None) -> None:
        self.params = params
        self.context = default_context(context)
        if not params.metrics:
            raise CodexError("the generation task needs at least one metric", hint=f"e.g. metrics=[{DEFAULT_METRICS[0]}]")
        self.scorers()  # unknown or token-level metrics fail here, before any generating

    def scorers(self) -> list[Any]:
        return build_text_metrics(self.context, self.params.metrics, "generation")

    def rows(self) -> list[tuple[Row, str, list[str]]]:
        """``(row, prompt, references)`` of every row of the data file."""
        out = []
        for row in read_rows(self.params.path, what="generation data", example=EXAMPLE):
            prompt = string_field(row, "prompt")
            if ("reference" in row.data) == ("references" in row.data):
                raise CodexError(f"{row.where}: a row needs 'reference' (a string) or 'references' (a list), "
                                 "exactly one of them", hint=f"e.g. {EXAMPLE}")
            references = ([string_field(row, "reference")] if "reference" in row.data
                          else string_list(row, "references"))
            out.append((row, prompt, references))
        return out

    def evaluate(self, lm: Any, request: EvalRequest) -> TaskResult:
        rows = self.rows()
        if request.max_samples is not None:
            rows = rows[: request.max_samples]
        ids = [row.id for row, _, _ in rows]
        if request.predictions is not None:
            outputs = self._given(request.predictions, ids)
            request.advance(len(ids), len(ids))
        else:
            outputs = self._generate(lm, rows, request)
        scorers = self.scorers()
        for output, (_, _, references) in zip(outputs, rows, strict=True):
            for scorer in scorers:
                scorer.update([output], [references])
        scores = sample_scores(scorers, len(ids))
        samples = [{"id": row.id, "prompt": prompt, "output": output, "references": references, **score}
                   for (row, prompt, references), output, score in zip(rows, outputs, scores, strict=True)]
        return TaskResult(ids=ids, scorers=scorers, samples=samples,
                          info={"rows": len(ids), "path": str(self.params.path),
                                "generated": request.predictions is None})

    def _given(self, predictions: Any, ids: list[str]) -> list[str]:
        check_predictions(predictions, ids, what="row")
        several = [i for i in ids if len(predictions[i]) != 1]
        if several:
            raise CodexError(f"row {several[0]!r} has {len(predictions[several[0]])} predictions; the generation "
                             "task scores exactly one per row", hint="give each id one prediction row")
        return [predictions[i][0] for i in ids]

    def _generate(self, lm: Any, rows: list[tuple[Row, str, list[str]]], request: EvalRequest) -> list[str]:
        if lm is None:
            raise CodexError("the generation task needs a model, or --predictions to score")
        from codex_models.generation.sampling import encode_prompt

        limit = lm.context_length
        for row, prompt, _ in rows:
            length = len(encode_prompt(lm.tokenizer, prompt))  # the ids generation starts from
            if length >= limit:
                raise CodexError(f"{row.where}: row {row.id!r} has a prompt of {length} tokens; the model's context "
                                 f"is {limit}", hint="shorten the prompt, or drop the row")
        p = self.params
        outputs: list[str] = []
        for start in range(0, len(rows), _CHUNK):
            chunk = [prompt for _, prompt, _ in rows[start:start + _CHUNK]]
            texts = lm.generate(chunk, n=1, max_new_tokens=p.max_new_tokens, temperature=p.temperature,
                                top_p=p.top_p, top_k=p.top_k, stop=tuple(p.stop), seed=request.seed + start)
            outputs.extend(t[0] for t in texts)
            request.advance(len(outputs), len(rows))
        return outputs
