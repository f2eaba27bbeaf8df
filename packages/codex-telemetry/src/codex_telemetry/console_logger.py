"""The ``console`` logger: one concise line per logging step, for pipes, CI and log files.

On a terminal the trainer's progress bar shows the same figures, so this logger stays quiet
there unless ``always: true``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from codex_telemetry.params import ConsoleLoggerParams

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.context import BuildContext

SYSTEM_PREFIX = "system/"


def _fixed(digits: int) -> Callable[[float], str]:
    return lambda v: f"{v:.{digits}f}"


def _si(value: float) -> str:
    """``12345`` -> ``12.3k``; ``2.5e6`` -> ``2.50M``."""
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            scaled = value / factor
            return f"{scaled:.1f}{suffix}" if abs(scaled) >= 10 else f"{scaled:.2f}{suffix}"
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.3g}"


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


# metric name -> (label, format); printed first, in this order
KNOWN: dict[str, tuple[str, Callable[[float], str]]] = {
    "train/loss": ("loss", _fixed(4)),
    "val/loss": ("val/loss", _fixed(4)),
    "val/perplexity": ("val/ppl", lambda v: f"{v:.2f}"),
    "train/lr": ("lr", lambda v: f"{v:.2e}"),
    "train/grad_norm": ("gnorm", lambda v: f"{v:.3f}"),
    "train/tokens_per_s": ("", lambda v: f"{_si(v)} tok/s"),
    "train/mfu": ("mfu", lambda v: f"{v:.3g}"),
    "train/tokens": ("tokens", _si),
    "train/elapsed_s": ("elapsed", _duration),
}


def format_line(metrics: Mapping[str, Any], step: int, *, system: bool = False) -> str:
    """The console line for one logging step, e.g.
    ``step 100 | loss 2.3456 | lr 3.00e-04 | 12.3k tok/s``.

    The metrics the training engine logs come first with short labels and fitting formats;
    others follow as ``name value`` (4 significant digits). ``system/*`` metrics are left
    out unless ``system``; values that are not numbers are left out.
    """
    parts = [f"step {step}"]
    for name, (label, fmt) in KNOWN.items():
        number = _number(metrics.get(name))
        if number is not None:
            text = fmt(number) if math.isfinite(number) else str(number)
            parts.append(f"{label} {text}" if label else text)
    for name, value in metrics.items():
        if name in KNOWN or (name.startswith(SYSTEM_PREFIX) and not system):
            continue
        number = _number(value)
        if number is not None:
            parts.append(f"{name} {number:.4g}")
    return " | ".join(parts)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class ConsoleLogger:
    """Prints one line per ``log_metrics`` call (implements ``codex_core.protocols.Logger``).

    Prints only when the stream is not a terminal (a pipe, CI, a log file), unless
    ``always``; on a terminal the trainer's progress bar shows the same figures.
    ``log_params`` and ``log_artifact`` print nothing.
    """

    def __init__(self, params: ConsoleLoggerParams | None = None, context: BuildContext | None = None) -> None:
        params = params if params is not None else ConsoleLoggerParams()
        self.always = params.always
        self.system = params.system
        self.stream_name = params.stream

    @property
    def stream(self) -> TextIO:
        """The stream, looked up on each use (so redirections made later are followed)."""
        return getattr(sys, self.stream_name)  # type: ignore[no-any-return]

    @property
    def enabled(self) -> bool:
        """True when lines are printed: ``always``, or the stream is not a terminal."""
        if self.always:
            return True
        isatty = getattr(self.stream, "isatty", None)
        return not (callable(isatty) and isatty())

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Prints nothing (the run's start banner shows the config)."""

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        if self.enabled:
            print(format_line(metrics, step, system=self.system), file=self.stream, flush=True)

    def log_artifact(self, path: str | Path, name: str | None = None) -> None:
        """Prints nothing."""

    def describe(self) -> str:
        """The banner line, e.g. ``console: stdout (when not a terminal)``."""
        return f"console: {self.stream_name}" + ("" if self.always else " (when not a terminal)")

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"ConsoleLogger(stream={self.stream_name!r}, always={self.always})"
