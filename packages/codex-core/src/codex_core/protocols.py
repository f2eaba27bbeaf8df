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
    """

    def update(self, predictions: Sequence[Any], references: Sequence[Any]) -> None: ...

    def compute(self) -> dict[str, float]: ...

    def merge(self, other: Any) -> None: ...

    def reset(self) -> None: ...


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
