"""The ``multiple-choice`` task: the choice the model finds most likely after the context.

The data file holds one row a line: ``{"id"?, "context", "choices": [...], "label": int}``
(``label`` is the index of the right choice; a row without an id has the id of its row
number, from 0). Each choice is scored as ``lm.loglikelihood((context, choice))``: the
log-probability of the choice's tokens after the context's, with lm-evaluation-harness's
conventions (the choice follows the context directly, so put any separating space in the
choices, e.g. ``" Paris"``). Keys:

* ``acc``: the fraction of rows whose most likely choice (the first, on ties) is the label;
* ``acc_norm``: the same with each log-likelihood divided by the choice's length in UTF-8
  bytes. lm-eval's ``acc_norm`` divides by characters, so for ASCII choices the two are
  the same; for other text this one does not favour choices written with multi-byte
  characters.

The model is always asked: given predictions (``--predictions``) are an error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codex_core.config.paths import ConfigPath
from codex_core.errors import CodexError
from codex_core.evaluation import EvalRequest, TaskResult
from codex_models.evaluation.tasks.rows import Row, default_context, read_rows, string_field, string_list

EXAMPLE = '{"id": "q1", "context": "The capital of France is", "choices": [" Paris", " Rome"], "label": 0}'
_CHUNK = 32  # rows per loglikelihood call (progress is reported after each)


class MultipleChoiceParams(BaseModel):
    """Params of the ``multiple-choice`` task."""

    model_config = ConfigDict(extra="forbid")

    path: ConfigPath = Field(description='jsonl rows {"id"?, "context", "choices": [...], "label": int} '
                             "(relative to the config file that sets it)")


def _argmax(values: list[float]) -> int:
    """The index of the largest value (the first on ties, as numpy's argmax)."""
    best = 0
    for i, value in enumerate(values):
        if value > values[best]:
            best = i
    return best


class MultipleChoiceTask:
    """The ``multiple-choice`` task (implements ``codex_core.protocols.Task``; see the
    module docstring)."""

    def __init__(self, params: MultipleChoiceParams, context: Any = None) -> None:
        self.params = params
        self.context = default_context(context)

    def scorers(self) -> list[Any]:
        return [self.context.build("metric", "accuracy", {"key": "acc"}),
                self.context.build("metric", "accuracy", {"key": "acc_norm"})]

    def rows(self) -> list[tuple[Row, str, list[str], int]]:
        """``(row, context, choices, label)`` of every row of the data file."""
        out = []
        for row in read_rows(self.params.path, what="multiple-choice data", example=EXAMPLE):
            context = string_field(row, "context")
            choices = string_list(row, "choices", allow_empty_items=False)
            label = row.data.get("label")
            if not isinstance(label, int) or isinstance(label, bool):
                raise CodexError(f"{row.where}: 'label' must be the index of the right choice (an integer)",
                                 hint=f"e.g. {EXAMPLE}")
            if not 0 <= label < len(choices):
                raise CodexError(f"{row.where}: label {label} is not the index of one of the "
                                 f"{len(choices)} choices", hint="labels count from 0")
            out.append((row, context, choices, label))
        return out

    def evaluate(self, lm: Any, request: EvalRequest) -> TaskResult:
        if request.predictions is not None:
            raise CodexError("the multiple-choice task scores the model's log-likelihoods, not given predictions",
                             hint="evaluate a model (--run or --model) instead of --predictions")
        if lm is None:
            raise CodexError("the multiple-choice task needs a model")
        rows = self.rows()
        if request.max_samples is not None:
            rows = rows[: request.max_samples]
        loglikelihoods: list[list[float]] = []
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            answers = lm.loglikelihood([(context, choice) for _, context, choices, _ in chunk for choice in choices])
            at = 0
            for _, _, choices, _ in chunk:
                loglikelihoods.append([float(ll) for ll, _ in answers[at:at + len(choices)]])
                at += len(choices)
            request.advance(len(loglikelihoods), len(rows))
        acc, acc_norm = scorers = self.scorers()
        samples = []
        for (row, context, choices, label), lls in zip(rows, loglikelihoods, strict=True):
            pred = _argmax(lls)
            pred_norm = _argmax([ll / len(choice.encode("utf-8")) for ll, choice in zip(lls, choices, strict=True)])
            acc.update([pred], [label])
            acc_norm.update([pred_norm], [label])
            samples.append({"id": row.id, "context": context, "choices": choices, "label": label,
                            "loglikelihoods": lls, "pred": pred, "pred_norm": pred_norm})
        return TaskResult(ids=[row.id for row, _, _, _ in rows], scorers=scorers, samples=samples,
                          info={"rows": len(rows), "path": str(self.params.path)})
