"""The loggers' fan-out: one object a training engine logs to, sending every call on to
each configured logger (``codex_core.protocols.Logger``) and keeping one failing logger
from stopping the others or the run."""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["LoggerDisabledWarning", "LoggerFanout"]

log = logging.getLogger("codex")


class LoggerDisabledWarning(RuntimeWarning):
    """A logger failed and the fan-out disabled it. Issued besides the ``codex`` log record for
    code that does not show codex's log; the ``codex`` command ignores it (the log line says it)."""


class LoggerFanout:
    """Sends every call to several loggers. A logger that raises is warned about once (a
    ``codex`` log record and a :class:`LoggerDisabledWarning`, naming the logger and the error),
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
            warnings.warn(message, LoggerDisabledWarning, stacklevel=4)

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
