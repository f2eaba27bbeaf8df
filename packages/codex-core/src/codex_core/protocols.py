"""The protocols components implement. Plain typing Protocols and the small dataclasses
they use (``Encoding``, ``Located``, ``Document``); no torch. The loggers' fan-out is in
:mod:`codex_core.fanout`, the training state in :mod:`codex_core.events`.

Components are duck-typed: a class need not inherit from these, only provide the methods.
``isinstance(obj, Tokenizer)`` works (the protocols are runtime-checkable) and checks that
the methods exist, not their signatures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


# -- tokenizers ------------------------------------------------------------------------
@dataclass
class Encoding:
    """One encoded text. ``offsets[i]`` is the ``(start, end)`` character span of token i
    in the input (``(0, 0)`` for added special tokens)."""

    ids: list[int]
    tokens: list[str] = field(default_factory=list)
    offsets: list[tuple[int, int]] = field(default_factory=list)
    attention_mask: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


@runtime_checkable
class Tokenizer(Protocol):
    """Text <-> token ids.

    ``special_tokens`` maps roles (``"bos"``, ``"eos"``, ``"pad"``, ``"unk"``, ...) to ids;
    a role the tokenizer lacks is absent. ``fingerprint()`` is a stable hash of everything
    that decides the ids (token caches are keyed by it). ``save(directory)`` writes the
    tokenizer so that it can be loaded again and returns the file written.
    """

    @property
    def vocab_size(self) -> int: ...

    @property
    def special_tokens(self) -> Mapping[str, int]: ...

    def encode(self, text: str) -> Encoding: ...

    def encode_batch(self, texts: Sequence[str]) -> list[Encoding]: ...

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str: ...

    def decode_batch(
        self, batch: Sequence[Sequence[int]], skip_special_tokens: bool = False
    ) -> list[str]: ...

    def fingerprint(self) -> str: ...

    def save(self, directory: str | Path) -> Path: ...


# -- connectors ------------------------------------------------------------------------
@dataclass(frozen=True)
class Located:
    """A local file a connector located or fetched, with the sha256 of its bytes."""

    path: Path
    sha256: str
    source: str = ""


@runtime_checkable
class Connector(Protocol):
    """Turns a source (a path, a glob, a URL, ...) into local files with their sha256."""

    def locate(self, source: str) -> list[Located]: ...


# -- datasets --------------------------------------------------------------------------
@dataclass(frozen=True)
class Document:
    """One document. ``id`` is stable: the same input gives the same id on every machine."""

    id: str
    text: str
    meta: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Dataset(Protocol):
    """An iterable of documents with a fingerprint of everything that decides them."""

    def __iter__(self) -> Iterator[Document]: ...

    def fingerprint(self) -> str: ...


# -- metrics ---------------------------------------------------------------------------
@runtime_checkable
class Metric(Protocol):
    """An evaluation metric, accumulated over batches and merged across ranks.

    ``update`` adds predictions and references; ``compute`` returns named values
    (``{"exact_match": 0.75}``); ``merge`` folds another instance's state into this one
    (for distributed evaluation); ``reset`` clears the state.

    Optional members, used when a metric has them:

    * ``inputs``: what ``update`` consumes: ``"tokens"`` (token ids, as the training
      engine's next-token predictions in a run config's ``metrics:``), ``"text"`` (decoded
      strings, as evaluation tasks give) or a tuple of both. Absent means ``"tokens"``; a
      text-only metric in a run config's ``metrics:`` is a validation error.
    * ``sample_stats() -> list``: one JSON-serialisable sufficient statistic per sample that
      ``update`` has seen, in order (a number, a list of numbers, ...).
    * ``compute_from(stats) -> dict[str, float]``: the values ``compute`` would give for the
      samples whose statistics are ``stats`` (any resample of ``sample_stats()``), so that
      ``compute() == compute_from(sample_stats())``. Bootstrap intervals resample these
      statistics instead of rescoring; a corpus metric such as BLEU keeps its n-gram counts
      per sample and sums them here. A metric without the two has no intervals.
    """

    def update(self, predictions: Sequence[Any], references: Sequence[Any]) -> None: ...

    def compute(self) -> dict[str, float]: ...

    def merge(self, other: Any) -> None: ...

    def reset(self) -> None: ...


def metric_inputs(metric: Any) -> frozenset[str]:
    """The inputs a metric (an instance or its class) declares: ``{"tokens"}`` when it
    declares none (see :class:`Metric`)."""
    declared = getattr(metric, "inputs", "tokens")
    return frozenset([declared] if isinstance(declared, str) else declared)


# -- evaluation ------------------------------------------------------------------------
@runtime_checkable
class LanguageModel(Protocol):
    """What an evaluation task may ask of a model; codex-models implements it for torch
    causal LMs (``codex_models.evaluation.lm.HFLanguageModel``), a plugin may for others.

    ``rolling_nll`` scores token sequences: each sequence starts with a separator (the
    training data's document separator) that is context only; every later token is
    predicted exactly once, in windows of ``max_length`` tokens that start every ``stride``
    tokens (each window scores only tokens no earlier window scored). It returns, per
    sequence, the total negative log-likelihood in nats and the number of tokens scored.

    ``loglikelihood`` returns, per ``(context, continuation)`` pair, the log-probability of
    the continuation's tokens after the context's, and whether greedy decoding would have
    produced exactly them.

    ``generate`` returns ``n`` continuations per prompt, each cut before the first of the
    ``stop`` strings it contains (and at the end-of-sequence token); temperature 0 is
    greedy. The same seed gives the same texts.

    ``path`` is the model directory when there is one (tasks that load the model
    themselves, such as the lm-eval bridge, use it), else None.
    """

    @property
    def tokenizer(self) -> Tokenizer: ...

    @property
    def context_length(self) -> int: ...

    @property
    def path(self) -> Path | None: ...

    def rolling_nll(
        self, sequences: Sequence[Sequence[int]], *, max_length: int, stride: int
    ) -> list[tuple[float, int]]: ...

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]: ...

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: Sequence[str] = (),
        seed: int = 0,
    ) -> list[list[str]]: ...


@runtime_checkable
class Task(Protocol):
    """An evaluation task (registered with ``codex_register_tasks``).

    ``evaluate(lm, request)`` scores the task's samples on ``lm`` (a :class:`LanguageModel`)
    or, when ``request.predictions`` is given and the task generates text, scores those
    outputs instead (``lm`` is then None). It returns a
    :class:`codex_core.evaluation.TaskResult`: the ids of the units scored (problems,
    documents or rows), the metrics fed with one update per unit, in that order, and
    per-sample records. ``scorers()`` returns fresh, empty instances of those metrics, so a
    result file's statistics can be scored again (``codex eval compare``).
    """

    def evaluate(self, lm: LanguageModel | None, request: Any) -> Any: ...

    def scorers(self) -> list[Metric]: ...


# -- loggers ---------------------------------------------------------------------------
@runtime_checkable
class Logger(Protocol):
    """An experiment logger. ``log_metrics`` receives flat ``{name: value}`` dicts.

    Two optional methods, called when a logger has them:

    * ``resume(step: int) -> None``: the run resumes from a checkpoint at ``step``; drop
      (or hide) what was logged for later steps, so no step appears twice, and continue the
      same record (e.g. the same tracking-server run).
    * ``describe() -> str``: one line for the run's start banner saying where the logger
      writes, e.g. ``"tracking: mlflow sqlite:///runs/mlflow.db"``.
    """

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None: ...

    def log_artifact(self, path: str | Path, name: str | None = None) -> None: ...

    def close(self) -> None: ...
