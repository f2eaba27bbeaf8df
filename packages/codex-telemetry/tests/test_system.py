"""The system-metrics sampler (real psutil, a short interval) and the hooks that run it."""

from __future__ import annotations

import logging
import math
import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest

import codex_telemetry.plugin
from codex_core.config import load_config
from codex_core.events import TrainEvents, TrainState
from codex_core.fanout import LoggerFanout
from codex_core.runs import RunDir
from codex_telemetry.system import SystemSampler

PSUTIL_METRICS = {
    "system/cpu_percent", "system/proc_rss_bytes", "system/mem_used_percent", "system/mem_available_bytes",
}
RATE_METRICS = {
    "system/disk_read_bytes_per_s", "system/disk_write_bytes_per_s",
    "system/net_sent_bytes_per_s", "system/net_recv_bytes_per_s",
}
GPU_METRICS = {"util_percent", "mem_used_bytes", "temp_c", "power_w"}


class ListLogger:
    """Keeps every ``log_metrics`` call; ``wait(n)`` blocks until n calls arrived."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, dict[str, float]]] = []
        self._cond = threading.Condition()

    def log_params(self, params: Any) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        with self._cond:
            self.rows.append((step, dict(metrics)))
            self._cond.notify_all()

    def log_artifact(self, path: Any, name: str | None = None) -> None: ...

    def close(self) -> None: ...

    def wait(self, n: int, timeout: float = 30.0) -> list[tuple[int, dict[str, float]]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.rows) >= n, timeout), f"fewer than {n} samples"
            return list(self.rows)


def nvml_available() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
    except Exception:
        return False
    return True


def test_samples_go_to_the_loggers_under_system_at_the_current_step() -> None:
    rows = ListLogger()
    state = TrainState(step=7)

    with SystemSampler(LoggerFanout([rows], names=["rows"]), state, interval=0.05, gpu=False):
        step, metrics = rows.wait(1)[0]

    assert step == 7
    assert set(metrics) >= PSUTIL_METRICS
    assert all(name.startswith("system/") and math.isfinite(value) for name, value in metrics.items())
    assert metrics["system/proc_rss_bytes"] > 0 and 0 <= metrics["system/mem_used_percent"] <= 100


class Counters:
    """Disk and network counters and a clock the test sets: psutil's readings and the
    sampler's ``time.monotonic``, so that a rate can be checked against delta / elapsed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import psutil

        import codex_telemetry.system

        self.now = 0.0
        self.disk = types.SimpleNamespace(read_bytes=0, write_bytes=0)
        self.net = types.SimpleNamespace(bytes_sent=0, bytes_recv=0)
        monkeypatch.setattr(psutil, "disk_io_counters", lambda: types.SimpleNamespace(**vars(self.disk)))
        monkeypatch.setattr(psutil, "net_io_counters", lambda: types.SimpleNamespace(**vars(self.net)))
        monkeypatch.setattr(codex_telemetry.system, "time", types.SimpleNamespace(monotonic=lambda: self.now))

    def set(self, now: float, read: int, write: int, sent: int, recv: int) -> None:
        self.now = now
        self.disk.read_bytes, self.disk.write_bytes = read, write
        self.net.bytes_sent, self.net.bytes_recv = sent, recv


def test_rates_are_per_second_and_never_negative(monkeypatch: pytest.MonkeyPatch) -> None:
    counters = Counters(monkeypatch)
    sampler = SystemSampler(ListLogger(), lambda: 0, interval=1.0, gpu=False)

    counters.set(100.0, read=1_000, write=5_000, sent=0, recv=10)
    first = sampler.sample()  # takes the baseline
    counters.set(102.5, read=6_000, write=7_500, sent=250, recv=1_000_010)
    second = sampler.sample()
    counters.set(107.5, read=6_000, write=2_500, sent=1_250, recv=10)  # write and recv counters reset
    third = sampler.sample()

    assert "system/cpu_percent" not in first and not RATE_METRICS & set(first)
    assert all(second[name] >= 0 for name in RATE_METRICS & set(second))
    assert "system/cpu_percent" in second
    assert {name: value for name, value in second.items() if name in RATE_METRICS} == {
        "system/disk_read_bytes_per_s": 5_000 / 2.5,
        "system/disk_write_bytes_per_s": 2_500 / 2.5,
        "system/net_sent_bytes_per_s": 250 / 2.5,
        "system/net_recv_bytes_per_s": 1_000_000 / 2.5,
    }
    assert {name: value for name, value in third.items() if name in RATE_METRICS} == {
        "system/disk_read_bytes_per_s": 0.0,
        "system/disk_write_bytes_per_s": 0.0,
        "system/net_sent_bytes_per_s": 1_000 / 5.0,
        "system/net_recv_bytes_per_s": 0.0,
    }


def test_the_step_follows_the_training_state_updated_in_place() -> None:
    rows = ListLogger()
    state = TrainState(step=1)

    with SystemSampler(rows, state, interval=0.05, gpu=False):
        rows.wait(1)
        state.step = 50
        seen = len(rows.rows)
        later = rows.wait(seen + 2)[seen + 1:]

    assert {step for step, _ in later} == {50}


def test_the_first_sample_waits_one_interval_and_stop_does_not() -> None:
    rows = ListLogger()
    sampler = SystemSampler(rows, TrainState(), interval=3600, gpu=False).start()

    sampler.stop(timeout=10)

    assert not sampler.running and rows.rows == []


def test_without_gpu_the_banner_says_nvml_off_and_one_info_line_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="codex")

    with SystemSampler(ListLogger(), TrainState(), interval=0.05, gpu=False) as sampler:
        line = sampler.describe()

    assert line == "system: psutil every 0.05s, NVML off (disabled)"
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "system metrics: no GPU metrics (NVML off: disabled)")]


@pytest.mark.skipif(nvml_available(), reason="this machine has NVML")
def test_missing_nvml_is_one_info_line_not_a_warning_storm(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="codex")
    rows = ListLogger()

    with SystemSampler(rows, TrainState(), interval=0.05, gpu=True) as sampler:
        rows.wait(3)

    assert sampler.describe().startswith("system: psutil every 0.05s, NVML off (")
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert not any("/gpu" in name for _, metrics in rows.rows for name in metrics)


@pytest.mark.skipif(not nvml_available(), reason="needs an NVIDIA GPU with its driver (NVML)")
def test_gpus_are_sampled_through_nvml() -> None:
    rows = ListLogger()

    with SystemSampler(rows, TrainState(), interval=0.05, gpu=True) as sampler:
        _, metrics = rows.wait(1)[0]

    assert "NVML on (" in sampler.describe()
    gpu0 = {name.removeprefix("system/gpu0/") for name in metrics if name.startswith("system/gpu0/")}
    assert {"util_percent", "mem_used_bytes"} <= gpu0 <= GPU_METRICS
    assert metrics["system/gpu0/mem_used_bytes"] > 0


def fake_pynvml(gpus: int, power: bool) -> types.ModuleType:
    """A stand-in for ``pynvml`` with ``gpus`` devices (NVML cannot run without a GPU driver);
    without ``power`` the power reading is not supported, as on some GPUs."""
    nv = types.ModuleType("pynvml")

    class NVMLError(Exception): ...

    class NVMLError_NotSupported(NVMLError): ...  # pynvml's name

    nv.NVMLError, nv.NVMLError_NotSupported, nv.NVML_TEMPERATURE_GPU = NVMLError, NVMLError_NotSupported, 0
    nv.calls = []

    def unsupported(handle: int) -> float:
        raise NVMLError_NotSupported()

    nv.nvmlInit = lambda: nv.calls.append("init")
    nv.nvmlShutdown = lambda: nv.calls.append("shutdown")
    nv.nvmlDeviceGetCount = lambda: gpus
    nv.nvmlDeviceGetHandleByIndex = lambda i: i
    nv.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=50 + h, memory=10)
    nv.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=(h + 1) * 2**30, total=80 * 2**30)
    nv.nvmlDeviceGetTemperature = lambda h, sensor: 40 + h
    nv.nvmlDeviceGetPowerUsage = (lambda h: 250_000) if power else unsupported
    return nv


def test_each_gpu_is_sampled_and_an_unsupported_reading_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    nv = fake_pynvml(gpus=2, power=False)
    monkeypatch.setitem(sys.modules, "pynvml", nv)
    rows = ListLogger()

    with SystemSampler(rows, TrainState(), interval=0.05, gpu=True) as sampler:
        _, metrics = rows.wait(1)[0]
        line = sampler.describe()

    gpu = {k: v for k, v in metrics.items() if "/gpu" in k}
    assert gpu == {
        "system/gpu0/util_percent": 50.0, "system/gpu0/mem_used_bytes": 2.0**30, "system/gpu0/temp_c": 40.0,
        "system/gpu1/util_percent": 51.0, "system/gpu1/mem_used_bytes": 2.0**31, "system/gpu1/temp_c": 41.0,
    }
    assert line == "system: psutil every 0.05s, NVML on (2 GPUs)"
    assert nv.calls == ["init", "shutdown"]


def test_gpu_power_is_in_watts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(gpus=1, power=True))

    sampler = SystemSampler(ListLogger(), TrainState(), interval=1, gpu=True)

    assert sampler.sample()["system/gpu0/power_w"] == 250.0
    sampler.stop()


def test_a_failing_source_is_reported_once_and_the_others_go_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import psutil

    def broken() -> None:
        raise OSError("no /proc/meminfo")

    monkeypatch.setattr(psutil, "virtual_memory", broken)
    caplog.set_level(logging.WARNING, logger="codex")
    rows = ListLogger()

    with SystemSampler(rows, TrainState(), interval=0.05, gpu=False):
        samples = rows.wait(4)

    assert [r.getMessage() for r in caplog.records] == [
        "system metrics: reading memory failed (OSError: no /proc/meminfo); not reported again"]
    assert all("system/proc_rss_bytes" in m and "system/mem_used_percent" not in m for _, m in samples)


def test_a_failing_logger_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    class Broken:
        def log_metrics(self, metrics: dict[str, float], step: int) -> None:
            calls.append(step)
            raise ConnectionError("tracking server down")

    caplog.set_level(logging.WARNING, logger="codex")
    sampler = SystemSampler(Broken(), TrainState(), interval=0.05, gpu=False)

    for _ in range(3):
        sampler._log(sampler.sample())

    assert len(calls) == 3 and len(caplog.records) == 1
    assert "logging a sample failed (ConnectionError: tracking server down)" in caplog.records[0].getMessage()


# -- the training-event hooks -------------------------------------------------------------
@pytest.fixture
def events(register_codex_plugin: Any, codex_plugin_manager: Any) -> TrainEvents:
    register_codex_plugin(codex_telemetry.plugin, "telemetry")
    return TrainEvents(codex_plugin_manager)


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    run = RunDir.create(tmp_path, "r")
    run.unlock()
    return run


def test_train_start_runs_the_sampler_until_train_end(events: TrainEvents, run: RunDir) -> None:
    from codex_telemetry.hooks import active_sampler

    config = load_config(None, ["telemetry.interval=0.05", "telemetry.gpu=false"]).config
    rows = ListLogger()
    state = TrainState(step=12)

    lines = events.train_start(run, config, model=object(), state=state, loggers=LoggerFanout([rows]))
    step, metrics = rows.wait(1)[0]
    sampler = active_sampler(run)
    events.train_end(run, state, "completed", {})

    assert lines == ["system: psutil every 0.05s, NVML off (disabled)"]
    assert step == 12 and set(metrics) >= PSUTIL_METRICS
    assert sampler is not None and not sampler.running and active_sampler(run) is None


def test_only_rank_0_samples(events: TrainEvents, run: RunDir) -> None:
    from codex_telemetry.hooks import active_sampler

    lines = events.train_start(run, load_config().config, model=object(), state=TrainState(rank=1, world_size=2))

    assert lines == [] and active_sampler(run) is None


def test_system_metrics_off_says_so_in_the_banner(events: TrainEvents, run: RunDir) -> None:
    from codex_telemetry.hooks import active_sampler

    config = load_config(None, ["telemetry.system_metrics=false"]).config

    assert events.train_start(run, config, model=object(), state=TrainState()) == ["system: off"]
    assert active_sampler(run) is None


def test_importing_the_plugin_does_not_import_psutil() -> None:
    import subprocess
    import sys

    code = "import sys, codex_telemetry.plugin; print('psutil' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)

    assert result.stdout.strip() == "False"
