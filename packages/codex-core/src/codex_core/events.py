"""Training events: the :class:`TrainState` handed to the training-event hooks, and
:class:`TrainEvents`, a typed wrapper over those hooks for training engines.

Engines call ``events.step_end(run, state, metrics)`` instead of ``pm.hook.…`` so the
arguments are checked in one place and "a plugin asked to stop" is one boolean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.config import RunConfig
    from codex_core.fanout import LoggerFanout
    from codex_core.plugins import PluginManager
    from codex_core.runs import RunDir

__all__ = ["TrainEvents", "TrainState"]


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


class TrainEvents:
    """Fires the ``codex_on_*`` hooks of every loaded plugin."""

    def __init__(self, manager: PluginManager) -> None:
        self._hook = manager.hook

    def train_start(
        self, run: RunDir, config: RunConfig, model: Any, state: TrainState, loggers: LoggerFanout | None = None
    ) -> list[str]:
        """Returns the banner lines the plugins gave."""
        from codex_core.fanout import LoggerFanout

        fanout = loggers if loggers is not None else LoggerFanout([])
        results = self._hook.codex_on_train_start(run=run, config=config, model=model, state=state, loggers=fanout)
        return [str(line) for line in results if line]

    def step_end(self, run: RunDir, state: TrainState, metrics: Mapping[str, float]) -> bool:
        """Returns True when any plugin asked for a graceful stop."""
        results = self._hook.codex_on_step_end(run=run, state=state, metrics=dict(metrics))
        return any(r is True for r in results)

    def eval(self, run: RunDir, state: TrainState, metrics: Mapping[str, float]) -> bool:
        """Returns True when any plugin asked for a graceful stop."""
        results = self._hook.codex_on_eval(run=run, state=state, metrics=dict(metrics))
        return any(r is True for r in results)

    def checkpoint(self, run: RunDir, state: TrainState, path: Path) -> None:
        self._hook.codex_on_checkpoint(run=run, state=state, path=path)

    def train_end(self, run: RunDir, state: TrainState, status: str, metrics: Mapping[str, float]) -> None:
        if status not in ("completed", "stopped", "failed"):
            raise ValueError(f"status must be completed, stopped or failed, not {status!r}")
        self._hook.codex_on_train_end(run=run, state=state, status=status, metrics=dict(metrics))
