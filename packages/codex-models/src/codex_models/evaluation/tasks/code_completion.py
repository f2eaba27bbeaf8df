"""The ``code-completion`` task: pass@k on HumanEval-format problems, run in the sandbox.

For each problem the model writes ``n`` completions of the prompt (or ``--predictions``
gives them); each sample's program (:func:`codex_models.evaluation.problems.program`) runs
in :mod:`codex_models.evaluation.sandbox` with ``timeout`` seconds, and passes when it exits
cleanly. Keys: ``pass@K`` for each k (the unbiased estimator, averaged over problems) and
``pass@K_clean`` over the problems that are not contaminated.

``problems`` is ``stdlib`` (the built-in set: :mod:`codex_models.evaluation.stdlib_problems`)
or the path of a problem file. A problem is *contaminated* when the file it was taken from
is among the evaluated run's training documents (the run's ``data`` section, read as the
token cache holds it, train split): a document whose ``meta["path"]`` ends with the
problem's ``source`` or whose text has the problem's ``sha256``. Without a run (``--model``,
``--predictions``) nothing is contaminated.

A prompt that leaves no room in the model's context is a one-line error for a problem file;
the built-in set leaves such problems out for that model (counted in ``info["too_long"]``),
since its problems are ordered shortest prompt first and not chosen by the user.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from codex_core.config.paths import PathMarker
from codex_core.errors import CodexError
from codex_core.evaluation import EvalRequest, TaskResult, check_predictions
from codex_models.evaluation.metrics.pass_at_k import PassAtK, PassAtKParams
from codex_models.evaluation.problems import Problem, fingerprint, load_problems, program

if TYPE_CHECKING:  # pragma: no cover
    from codex_models.evaluation.sandbox import Outcome

log = logging.getLogger("codex.eval")

DEFAULT_STOP = ["\ndef ", "\nclass ", "\nif __name__", "\nprint("]
_CHUNK = 16  # problems per generate call and sandbox batch (progress is reported after each)


class CodeCompletionParams(BaseModel):
    """Params of the ``code-completion`` task."""

    model_config = ConfigDict(extra="forbid")

    problems: Annotated[str, PathMarker(keep=("stdlib",))] = Field(
        "stdlib", description="'stdlib' (the built-in doctest problems of this Python's standard library) or the "
        "path of a HumanEval-format .jsonl(.gz) file (relative to the config file that sets it)")
    n: int = Field(1, ge=1, description="completions generated per problem")
    k: list[int] = Field(default_factory=lambda: [1], min_length=1,
                         description="the k of each pass@k reported (each at most n)")
    temperature: float = Field(0.2, ge=0.0, description="sampling temperature (0: greedy)")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="nucleus sampling: keep the smallest set of tokens "
                         "with this much probability")
    max_new_tokens: int = Field(128, ge=1, description="longest completion, in tokens")
    stop: list[str] = Field(default_factory=lambda: list(DEFAULT_STOP),
                            description="a completion is cut before the first of these strings")
    timeout: float = Field(5.0, gt=0.0, description="seconds each sample's program may run")

    @model_validator(mode="after")
    def _k_within_n(self) -> CodeCompletionParams:
        PassAtKParams(k=self.k)  # each k >= 1
        if max(self.k) > self.n:
            raise ValueError(f"every k must be at most n ({self.n}), got k={self.k}")
        return self


def flag_contaminated(problems: Sequence[Problem], data: Any, context: Any, *, seed: int) -> set[str]:
    """The ids of the problems whose source file is among ``data``'s train documents (see
    the module docstring)."""
    from codex_data import split_documents

    wanted = [p for p in problems if p.source or p.sha256]
    if not wanted:
        return set()
    dataset = context.build("dataset", data)

    def matches(doc: Any) -> list[Problem]:
        path = str(doc.meta.get("path", "")) if getattr(doc, "meta", None) else ""
        digest = _sha256(doc.text)
        return [p for p in wanted if (p.sha256 and p.sha256 == digest)
                or (p.source and path and (path == p.source or path.endswith("/" + p.source)))]

    def relevant() -> Iterator[Any]:  # only the documents a problem can match go through the pipeline
        return (doc for doc in dataset if matches(doc))

    out: set[str] = set()
    for doc in split_documents(data, context, seed=seed, split="train", dataset=_Only(relevant, dataset)):
        out.update(p.task_id for p in matches(doc))
    return out


class _Only:
    """A dataset that yields only some of another's documents (same fingerprint)."""

    def __init__(self, documents: Any, dataset: Any) -> None:
        self._documents, self._dataset = documents, dataset

    def __iter__(self) -> Iterator[Any]:
        return iter(self._documents())

    def fingerprint(self) -> str:
        return str(self._dataset.fingerprint())


def _sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class CodeCompletionTask:
    """The ``code-completion`` task (implements ``codex_core.protocols.Task``; see the
    module docstring)."""

    def __init__(self, params: CodeCompletionParams, context: Any = None) -> None:
        self.params = params
        self.context = context
        self._loaded: tuple[list[Problem], str] | None = None

    def scorers(self) -> list[PassAtK]:
        return [PassAtK(PassAtKParams(k=self.params.k)), PassAtK(PassAtKParams(k=self.params.k, suffix="_clean"))]

    @property
    def builtin(self) -> bool:
        return self.params.problems.strip().lower() == "stdlib"

    def problems(self, cache_dir: Any) -> tuple[list[Problem], str]:
        """The problem set and its fingerprint (read once per task)."""
        if self._loaded is None:
            if self.builtin:
                from codex_models.evaluation.stdlib_problems import stdlib_fingerprint, stdlib_problems

                problems = stdlib_problems(cache_dir)
                self._loaded = problems, stdlib_fingerprint(problems)
            else:
                problems = load_problems(self.params.problems)
                self._loaded = problems, fingerprint(problems)
        if not self._loaded[0]:
            raise CodexError("the stdlib problem set is empty on this Python",
                             hint="give problems=PATH, a HumanEval-format problem file")
        return self._loaded

    def evaluate(self, lm: Any, request: EvalRequest) -> TaskResult:
        problems, print_ = self.problems(request.context.cache_dir)
        every = {p.task_id for p in problems}
        too_long = 0
        if request.predictions is None:
            if lm is None:
                raise CodexError("the code-completion task needs a model or given predictions",
                                 hint="evaluate a model (--run or --model) or pass --predictions")
            fitting = self._fitting(lm, problems)
            if not fitting:
                raise CodexError(f"none of the {len(problems)} stdlib problems fits the model's context of "
                                 f"{lm.context_length} tokens", hint="give problems=PATH with shorter prompts")
            too_long, problems = len(problems) - len(fitting), fitting
        if request.max_samples is not None:
            problems = problems[: request.max_samples]
        if not problems:
            raise CodexError("no code-completion problems to score",
                             hint="raise --max-samples" if request.max_samples == 0 else "check the problem file")
        completions = self._given(request.predictions, every, problems) if request.predictions is not None else None
        contaminated = self._contaminated(problems, request)
        outcomes: list[list[Outcome]] = []
        texts: list[list[str]] = []
        for start in range(0, len(problems), _CHUNK):
            chunk = problems[start:start + _CHUNK]
            if completions is not None:
                batch = completions[start:start + _CHUNK]
            else:
                batch = lm.generate([p.prompt for p in chunk], n=self.params.n, max_new_tokens=self.params.max_new_tokens,
                                    temperature=self.params.temperature, top_p=self.params.top_p,
                                    stop=list(self.params.stop), seed=request.seed + start)
            outcomes += self._run(chunk, batch)
            texts += [list(b) for b in batch]
            request.advance(len(outcomes), len(problems))
        return self._result(problems, texts, outcomes, contaminated, print_, too_long)

    # -- steps ----------------------------------------------------------------------------
    def _fitting(self, lm: Any, problems: list[Problem]) -> list[Problem]:
        """The problems whose prompt leaves room for a token in the model's context: the
        others are an error for a problem file, and left out of the built-in set."""
        from codex_models.generation.sampling import encode_prompt

        context = int(lm.context_length)
        kept = []
        for p in problems:
            tokens = len(encode_prompt(lm.tokenizer, p.prompt))
            if tokens < context:
                kept.append(p)
            elif not self.builtin:
                raise CodexError(f"problem {p.task_id!r}: its prompt is {tokens} tokens, which leaves no room in the "
                                 f"model's context of {context}",
                                 hint="shorten the prompt or use a model with a longer context")
        if len(kept) < len(problems):
            log.warning("code-completion: %d of %d stdlib problems do not fit the model's context of %d tokens; "
                        "left out", len(problems) - len(kept), len(problems), context)
        return kept

    def _given(self, predictions: Mapping[str, Sequence[str]], every: set[str],
               problems: list[Problem]) -> list[list[str]]:
        """Each problem's given completions; predictions for problems past ``--max-samples``
        are left out, those for ids the problem set lacks are an error."""
        chosen = {p.task_id for p in problems}
        given = {i: c for i, c in predictions.items() if i not in every or i in chosen}
        check_predictions(given, [p.task_id for p in problems], what="problem", min_samples=max(self.params.k))
        return [list(given[p.task_id]) for p in problems]

    def _contaminated(self, problems: list[Problem], request: EvalRequest) -> set[str]:
        config = request.config
        if config is None or getattr(config, "data", None) is None:
            return set()
        return flag_contaminated(problems, config.data, request.context, seed=config.data.split.seed)

    def _run(self, chunk: list[Problem], batch: Sequence[Sequence[str]]) -> list[list[Outcome]]:
        from codex_models.evaluation.sandbox import run_programs

        if len(batch) != len(chunk):
            raise CodexError(f"the model gave completions for {len(batch)} of {len(chunk)} prompts")
        programs = [program(p, text) for p, texts in zip(chunk, batch, strict=True) for text in texts]
        results = run_programs(programs, timeout=self.params.timeout)
        out, at = [], 0
        for texts in batch:
            out.append(results[at:at + len(texts)])
            at += len(texts)
        return out

    def _result(self, problems: list[Problem], texts: list[list[str]], outcomes: list[list[Outcome]],
                contaminated: set[str], print_: str, too_long: int) -> TaskResult:
        everything, clean = scorers = self.scorers()
        samples = []
        for p, outputs, results in zip(problems, texts, outcomes, strict=True):
            passed = [r.passed for r in results]
            dirty = p.task_id in contaminated
            everything.update([passed], [None])
            clean.update([None if dirty else passed], [None])
            samples += [{"id": p.task_id, "sample": i, "prompt": p.prompt, "output": output, "status": r.status,
                         "error": r.error, "passed": r.passed, "contaminated": dirty}
                        for i, (output, r) in enumerate(zip(outputs, results, strict=True))]
        info: dict[str, Any] = {"problems": len(problems), "contaminated": len(contaminated), "fingerprint": print_,
                                "problem_set": "stdlib" if self.builtin else str(self.params.problems)}
        if too_long:
            info["too_long"] = too_long
        return TaskResult(ids=[p.task_id for p in problems], scorers=list(scorers), samples=samples, info=info)
