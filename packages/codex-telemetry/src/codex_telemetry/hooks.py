"""Training-event hooks: start the system-metrics sampler when a run starts and stop it
when the run ends (re-exported by the plugin module).

The sampler runs on rank 0 only, when ``telemetry.system_metrics`` is true, every
``telemetry.interval`` seconds, with GPUs when ``telemetry.gpu`` is true and NVML is
available. Its samples go to the run's loggers. Importing this module is cheap: psutil
and NVML are imported when a run starts.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.config import RunConfig
    from codex_core.events import TrainState
    from codex_core.fanout import LoggerFanout
    from codex_core.runs import RunDir
    from codex_telemetry.system import SystemSampler

_samplers: dict[Path, SystemSampler] = {}
_lock = threading.Lock()


def _key(run: RunDir) -> Path:
    return Path(run.path).resolve()


def active_sampler(run: RunDir) -> SystemSampler | None:
    """The sampler running for ``run``, if any."""
    with _lock:
        return _samplers.get(_key(run))


@hookimpl
def codex_on_train_start(run: RunDir, config: RunConfig, state: TrainState, loggers: LoggerFanout) -> str | None:
    """Start sampling system metrics (rank 0); returns the banner line ``"system: ..."``."""
    if state.rank != 0:
        return None
    telemetry: Any = config.telemetry
    if not telemetry.system_metrics:
        return "system: off"
    from codex_telemetry.system import SystemSampler

    sampler = SystemSampler(loggers, state, interval=telemetry.interval, gpu=telemetry.gpu)
    with _lock:
        previous = _samplers.pop(_key(run), None)
        _samplers[_key(run)] = sampler
    if previous is not None:  # the same run started again in this process without ending
        previous.stop()
    sampler.start()
    return sampler.describe()


@hookimpl
def codex_on_train_end(run: RunDir) -> None:
    """Stop the run's sampler: nothing more is logged by it after this returns."""
    with _lock:
        sampler = _samplers.pop(_key(run), None)
    if sampler is not None:
        sampler.stop()
