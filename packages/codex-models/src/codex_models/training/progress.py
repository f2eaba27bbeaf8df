"""The training progress display: a one-line bar on a terminal (loss, tokens/s, ETA), plain
lines at each logging step elsewhere (pipes, CI), unless a ``console`` logger prints them."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, *, console_logger: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.console_logger = console_logger
        self.started = time.perf_counter()
        self.first_step: int | None = None
        self._last_draw = 0.0
        self._drawn = False

    def update(self, state: Any, metrics: dict[str, float], total_steps: int | None, cfg: Any) -> None:
        if self.first_step is None:
            self.first_step = state.step - 1
            self.started = time.perf_counter()
        now = time.perf_counter()
        done = state.step - self.first_step
        rate = done / max(now - self.started, 1e-9)
        eta = _eta(state, total_steps, rate, cfg)
        parts = [f"step {state.step}" + (f"/{total_steps}" if total_steps else "")]
        if "train/loss" in metrics:
            parts.append(f"loss {metrics['train/loss']:.4f}")
        if "val/loss" in metrics:
            parts.append(f"val {metrics['val/loss']:.4f}")
        if "train/tokens_per_s" in metrics:
            parts.append(f"{_si(metrics['train/tokens_per_s'])} tok/s")
        if eta is not None:
            parts.append(f"ETA {_duration(eta)}")
        line = " | ".join(parts)
        if self.tty:
            if now - self._last_draw >= 0.1 or (total_steps and state.step >= total_steps):
                bar = _bar(state.step / total_steps) if total_steps else ""
                self.stream.write("\r\033[K" + (bar + " " if bar else "") + line)
                self.stream.flush()
                self._last_draw, self._drawn = now, True
        elif not self.console_logger and state.step % cfg.log_every == 0:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def _eta(state: Any, total_steps: int | None, rate: float, cfg: Any) -> float | None:
    remaining = []
    if total_steps:
        remaining.append(max(0, total_steps - state.step) / max(rate, 1e-9))
    if cfg.max_time is not None:
        remaining.append(max(0.0, cfg.max_time - state.elapsed_s))
    return min(remaining) if remaining else None


def _bar(fraction: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _si(value: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
