"""System metrics sampled in a background thread and logged under ``system/``.

Every ``interval`` seconds the sampler logs, at the run's current training step:

====================================  ============================================================
``system/cpu_percent``                CPU use of the whole machine since the previous sample (0-100)
``system/proc_rss_bytes``             resident memory of this process and its children
``system/mem_used_percent``           memory in use on the machine (0-100)
``system/mem_available_bytes``        memory available to new processes
``system/disk_read_bytes_per_s``      disk reads, bytes per second since the previous sample
``system/disk_write_bytes_per_s``     disk writes, bytes per second since the previous sample
``system/net_sent_bytes_per_s``       network bytes sent per second since the previous sample
``system/net_recv_bytes_per_s``       network bytes received per second since the previous sample
``system/gpu{i}/util_percent``        GPU ``i``: utilisation (0-100)               (NVML only)
``system/gpu{i}/mem_used_bytes``      GPU ``i``: memory in use                     (NVML only)
``system/gpu{i}/temp_c``              GPU ``i``: temperature, degrees Celsius      (NVML only)
``system/gpu{i}/power_w``             GPU ``i``: power draw, watts                 (NVML only)
====================================  ============================================================

The first sample comes one interval after :meth:`SystemSampler.start`, because CPU use
and I/O rates are differences from a baseline taken at start. A source a machine lacks
(no disk counters in some containers, a GPU without a power sensor) is left out.

GPUs are sampled only when asked for (``gpu=True``) *and* the ``pynvml`` module (the
``nvidia-ml-py`` package, extra ``[nvml]``) imports *and* NVML initialises; otherwise one
``logging.info`` line says why, and :meth:`SystemSampler.describe` says ``NVML off (<why>)``.
A source that fails while sampling is reported once (a warning), not every interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import psutil

log = logging.getLogger("codex.telemetry")

PREFIX = "system/"


def _step_reader(state_or_step_fn: Any) -> Callable[[], int]:
    if callable(state_or_step_fn):
        return lambda: int(state_or_step_fn())
    if not hasattr(state_or_step_fn, "step"):
        raise TypeError("SystemSampler needs an object with a .step attribute (a TrainState) or a callable")
    return lambda: int(state_or_step_fn.step)


class _NVML:
    """The GPUs through NVML, or the reason there are none (``reason``)."""

    def __init__(self, wanted: bool) -> None:
        self.handles: list[Any] = []
        self.reason: str | None = None
        self._pynvml: Any = None
        if not wanted:
            self.reason = "disabled"
            return
        try:
            import pynvml
        except ImportError:
            self.reason = "nvidia-ml-py not installed"
            return
        try:
            pynvml.nvmlInit()
        except Exception as exc:
            self.reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return
        self._pynvml = pynvml
        try:
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception as exc:
            self.reason = f"{type(exc).__name__}: {exc}"
            self.shutdown()
            return
        if not self.handles:
            self.reason = "no GPU found"
            self.shutdown()

    @property
    def on(self) -> bool:
        return self.reason is None

    def sample(self, unsupported: set[str]) -> dict[str, float]:
        """One reading per GPU; a reading the GPU does not support is added to
        ``unsupported`` and not tried again."""
        nv = self._pynvml
        readers: dict[str, Callable[[Any], float]] = {
            "util_percent": lambda h: float(nv.nvmlDeviceGetUtilizationRates(h).gpu),
            "mem_used_bytes": lambda h: float(nv.nvmlDeviceGetMemoryInfo(h).used),
            "temp_c": lambda h: float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)),
            "power_w": lambda h: nv.nvmlDeviceGetPowerUsage(h) / 1000.0,  # milliwatts
        }
        out: dict[str, float] = {}
        for i, handle in enumerate(self.handles):
            for name, read in readers.items():
                key = f"{PREFIX}gpu{i}/{name}"
                if key in unsupported:
                    continue
                try:
                    out[key] = read(handle)
                except nv.NVMLError_NotSupported:
                    unsupported.add(key)
        return out

    def shutdown(self) -> None:
        if self._pynvml is not None:
            try:
                self._pynvml.nvmlShutdown()
            except Exception as exc:  # shutting down; nothing left to do but say so
                log.debug("nvmlShutdown failed: %s", exc)
            self._pynvml = None


class SystemSampler:
    """Samples system metrics every ``interval`` seconds in a daemon thread and logs them
    to ``loggers`` (a ``LoggerFanout`` or any object with ``log_metrics(metrics, step)``).

    :param loggers: where samples go.
    :param state_or_step_fn: the run's ``TrainState`` (its ``step`` is read at each sample;
        the engine updates it in place) or a callable returning the current step.
    :param interval: seconds between samples.
    :param gpu: also sample GPUs through NVML where available.

    Use :meth:`start` and :meth:`stop` (or ``with``). :meth:`stop` returns promptly: the
    thread waits on an event, not a sleep.
    """

    def __init__(self, loggers: Any, state_or_step_fn: Any, interval: float = 10.0, gpu: bool = True) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval}")
        self.loggers = loggers
        self.interval = float(interval)
        self._step = _step_reader(state_or_step_fn)
        self._stop = threading.Event()
        self._log_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._reported: set[str] = set()
        self._unsupported: set[str] = set()
        self._process = psutil.Process()
        self._nvml = _NVML(gpu)
        if not self._nvml.on:
            log.info("system metrics: no GPU metrics (NVML off: %s)", self._nvml.reason)
        self._last: tuple[float, Any, Any] | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> SystemSampler:
        """Take the baseline and start the thread (the first sample comes after one interval)."""
        if self._thread is not None:
            raise RuntimeError("this SystemSampler was already started")
        self._baseline()
        self._thread = threading.Thread(target=self._run, name="codex-system-metrics", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop sampling, wait for the thread (at most ``timeout`` seconds) and release NVML.
        Nothing is logged after it returns (unless a logger call took over ``timeout``)."""
        held = self._log_lock.acquire(timeout=timeout)
        self._stop.set()
        if held:
            self._log_lock.release()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._nvml.shutdown()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> SystemSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def describe(self) -> str:
        """The banner line, e.g. ``"system: psutil every 10s, NVML off (disabled)"``."""
        gpus = (f"NVML on ({len(self._nvml.handles)} GPU{'s' if len(self._nvml.handles) != 1 else ''})"
                if self._nvml.on else f"NVML off ({self._nvml.reason})")
        return f"system: psutil every {self.interval:g}s, {gpus}"

    # -- sampling -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            metrics = self.sample()
            with self._log_lock:
                if metrics and not self._stop.is_set():
                    self._log(metrics)

    def _baseline(self) -> None:
        psutil.cpu_percent(interval=None)
        self._last = (time.monotonic(), self._guard("disk", psutil.disk_io_counters),
                      self._guard("net", psutil.net_io_counters))

    def sample(self) -> dict[str, float]:
        """Read every source once and return the metrics. CPU use and rates are since the
        previous call (or :meth:`start`); a first call without either only takes that
        baseline and returns the rest."""
        if self._last is None:
            self._baseline()
            return self._instant(cpu=False)
        now = time.monotonic()
        disk = self._guard("disk", psutil.disk_io_counters)
        net = self._guard("net", psutil.net_io_counters)
        then, disk0, net0 = self._last
        self._last = (now, disk, net)
        metrics = self._instant()
        seconds = now - then
        if seconds > 0:
            if disk is not None and disk0 is not None:
                metrics[PREFIX + "disk_read_bytes_per_s"] = max(0, disk.read_bytes - disk0.read_bytes) / seconds
                metrics[PREFIX + "disk_write_bytes_per_s"] = max(0, disk.write_bytes - disk0.write_bytes) / seconds
            if net is not None and net0 is not None:
                metrics[PREFIX + "net_sent_bytes_per_s"] = max(0, net.bytes_sent - net0.bytes_sent) / seconds
                metrics[PREFIX + "net_recv_bytes_per_s"] = max(0, net.bytes_recv - net0.bytes_recv) / seconds
        return metrics

    def _instant(self, cpu: bool = True) -> dict[str, float]:
        metrics: dict[str, float] = {}
        percent = self._guard("cpu", lambda: psutil.cpu_percent(interval=None)) if cpu else None
        if percent is not None:
            metrics[PREFIX + "cpu_percent"] = float(percent)
        rss = self._guard("process", self._rss)
        if rss is not None:
            metrics[PREFIX + "proc_rss_bytes"] = float(rss)
        memory = self._guard("memory", psutil.virtual_memory)
        if memory is not None:
            metrics[PREFIX + "mem_used_percent"] = float(memory.percent)
            metrics[PREFIX + "mem_available_bytes"] = float(memory.available)
        if self._nvml.on:
            metrics.update(self._guard("gpu", lambda: self._nvml.sample(self._unsupported)) or {})
        return metrics

    def _rss(self) -> int:
        total = self._process.memory_info().rss
        for child in self._process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:  # the child ended between listing and reading
                continue
        return int(total)

    def _guard(self, source: str, read: Callable[[], Any]) -> Any:
        """``read()``, or None after reporting the first failure of ``source`` once."""
        try:
            return read()
        except Exception as exc:
            self._report(f"reading {source}", exc)
            return None

    def _log(self, metrics: Mapping[str, float]) -> None:
        try:
            self.loggers.log_metrics(dict(metrics), self._step())
        except Exception as exc:
            self._report("logging a sample", exc)

    def _report(self, what: str, exc: BaseException) -> None:
        """Warn about the first failure of ``what``; later ones are not reported."""
        if what not in self._reported:
            self._reported.add(what)
            log.warning("system metrics: %s failed (%s: %s); not reported again", what, type(exc).__name__, exc)
