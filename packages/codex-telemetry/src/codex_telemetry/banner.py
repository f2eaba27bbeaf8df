"""The run's start banner: one line naming the active integrations and where they write,
so that nobody assumes tracking is on when it is not.

Example::

    integrations: csv: runs/x/metrics.csv · tracking: mlflow sqlite:///runs/mlflow.db · system: psutil every 10s, NVML off (disabled)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SEPARATOR = " · "
PREFIX = "integrations: "


def banner(lines: Iterable[str | None]) -> str:
    """Join the non-empty integration lines with ``" · "`` (``"none"`` when there are none)."""
    parts = [" ".join(str(line).split()) for line in lines if line and str(line).strip()]
    return SEPARATOR.join(parts) if parts else "none"


def logger_lines(loggers: Any) -> list[str]:
    """A banner line per active logger of a ``LoggerFanout``: its ``describe()``, or its
    name for a logger without one (so every logger that is on is listed)."""
    lines = []
    for logger, name in zip(loggers.loggers, loggers.names, strict=True):
        if name in loggers.disabled:
            continue
        if hasattr(logger, "describe"):
            try:
                lines.append(str(logger.describe()))
            except Exception as exc:
                lines.append(f"{name}: ({type(exc).__name__}: {exc})")
        else:
            lines.append(name)
    return lines


def integrations_banner(loggers: Any, hook_lines: Iterable[str | None] = ()) -> str:
    """``"integrations: " + banner(...)`` of a ``LoggerFanout``'s loggers and the lines the
    ``codex_on_train_start`` hooks returned: what a training engine prints at run start."""
    return PREFIX + banner([*logger_lines(loggers), *hook_lines])
