"""The protocols components implement. Plain typing Protocols and small dataclasses; no torch.

Components are duck-typed: a class need not inherit from these, only provide the methods.
``isinstance(obj, Tokenizer)`` works (the protocols are runtime-checkable) and checks that
the methods exist, not their signatures.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger("codex")


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


class LoggerFanout:
    """Sends every call to several loggers. A logger that raises is warned about once,
    disabled, and the others go on; nothing the others logged is lost.

    Calls are serialised by a lock, so a background thread (e.g. a system-metrics
    sampler) may log while the training loop does.
    """

    def __init__(self, loggers: Iterable[Any], names: Iterable[str] | None = None) -> None:
        self.loggers = list(loggers)
        if names is None:
            names = [f"{type(lg).__name__}#{i}" for i, lg in enumerate(self.loggers)]
        self.names = list(names)
        if len(set(self.names)) != len(self.names) or len(self.names) != len(self.loggers):
            raise ValueError("LoggerFanout needs one distinct name per logger")
        self.disabled: dict[str, str] = {}
        self._lock = threading.RLock()

    @property
    def active(self) -> list[Any]:
        return [lg for lg, n in zip(self.loggers, self.names, strict=True) if n not in self.disabled]

    def _call(self, method: str, *args: Any, optional: bool = False, **kwargs: Any) -> None:
        with self._lock:
            for logger, name in zip(self.loggers, self.names, strict=True):
                if name not in self.disabled and (not optional or hasattr(logger, method)):
                    self._call_one(logger, name, method, *args, **kwargs)

    def _call_one(self, logger: Any, name: str, method: str, *args: Any, **kwargs: Any) -> None:
        try:
            getattr(logger, method)(*args, **kwargs)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self.disabled[name] = reason
            message = f"logger {name!r} failed in {method} ({reason}); it is disabled for the rest of the run"
            log.warning(message)
            warnings.warn(message, RuntimeWarning, stacklevel=4)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._call("log_params", params)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._call("log_metrics", metrics, step)

    def log_artifact(self, path: str | Path, name: str | None = None) -> None:
        self._call("log_artifact", path, name)

    def resume(self, step: int) -> None:
        """Tell the loggers that have ``resume`` that the run continues from ``step``."""
        self._call("resume", step, optional=True)

    def describe(self) -> list[str]:
        """The banner lines of the active loggers: each one's ``describe()``, or just its
        name when it has none (or when ``describe`` raises), so every active logger shows."""
        lines = []
        for logger, name in zip(self.loggers, self.names, strict=True):
            if name in self.disabled:
                continue
            if not hasattr(logger, "describe"):
                lines.append(name)
                continue
            try:
                lines.append(str(logger.describe()))
            except Exception as exc:
                lines.append(f"{name}: ({type(exc).__name__}: {exc})")
        return lines

    def close(self) -> None:
        self._call("close")


# -- training state (handed to the training-event hooks) --------------------------------
@dataclass
class TrainState:
    """Where a training run is. Handed to the training-event hooks; treat it as read-only.

    :ivar step: optimizer steps completed.
    :ivar tokens: training tokens consumed (all ranks together).
    :ivar epoch: passes over the training split started (0-based).
    :ivar elapsed_s: wall-clock seconds of training (across resumes).
    :ivar rank: this process's rank; :ivar world_size: processes in the run.
    :ivar best: the best value of the monitored metric so far, or None.
    """

    step: int = 0
    tokens: int = 0
    epoch: int = 0
    elapsed_s: float = 0.0
    rank: int = 0
    world_size: int = 1
    best: float | None = None
