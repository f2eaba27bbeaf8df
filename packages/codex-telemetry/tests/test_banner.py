"""The start banner: one line naming the active integrations and where they write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import codex_telemetry.plugin
from codex_core.config import load_config
from codex_core.context import BuildContext
from codex_core.events import TrainEvents, TrainState
from codex_core.fanout import LoggerFanout
from codex_core.runs import RunDir
from codex_telemetry.banner import banner, integrations_banner


class Quiet:
    """A logger without ``describe``."""

    def log_params(self, params: Any) -> None: ...

    def log_metrics(self, metrics: Any, step: int) -> None: ...

    def log_artifact(self, path: Any, name: str | None = None) -> None: ...

    def close(self) -> None: ...


def test_banner_joins_the_lines_with_a_middle_dot() -> None:
    assert banner(["tracking: mlflow sqlite:///runs/mlflow.db", "tensorboard: runs/x/tb"]) == (
        "tracking: mlflow sqlite:///runs/mlflow.db · tensorboard: runs/x/tb")


def test_banner_skips_empty_lines_and_says_none_when_nothing_is_on() -> None:
    assert banner([None, "", "  system: off \n"]) == "system: off"
    assert banner([]) == "none"


def test_the_csv_logger_says_where_it_writes(run_context: BuildContext) -> None:
    csv = run_context.build("logger", "csv")

    assert integrations_banner(LoggerFanout([csv], names=["csv"])) == (
        f"integrations: csv: {run_context.run_dir / 'metrics.csv'}")


def test_a_logger_without_describe_is_still_listed_by_name(run_context: BuildContext) -> None:
    fanout = LoggerFanout([run_context.build("logger", "csv"), Quiet()], names=["csv", "quiet"])

    assert integrations_banner(fanout).endswith("metrics.csv · quiet")


def test_a_disabled_logger_is_not_listed(run_context: BuildContext) -> None:
    fanout = LoggerFanout([Quiet(), run_context.build("logger", "csv")], names=["quiet", "csv"])
    fanout.disabled["quiet"] = "failed"

    assert "quiet" not in integrations_banner(fanout)


def test_the_sampler_hook_line_joins_the_logger_lines(
    register_codex_plugin: Any, codex_plugin_manager: Any, run_context: BuildContext, tmp_path: Path
) -> None:
    register_codex_plugin(codex_telemetry.plugin, "telemetry")
    run = RunDir.create(tmp_path, "run")
    run.unlock()
    loggers = LoggerFanout([run_context.build("logger", "csv")], names=["csv"])
    state = TrainState()
    config = load_config(None, ["telemetry.gpu=false", "telemetry.interval=30"]).config
    events = TrainEvents(codex_plugin_manager)

    hook_lines = events.train_start(run, config, model=object(), state=state, loggers=loggers)
    events.train_end(run, state, "completed", {})

    assert integrations_banner(loggers, hook_lines) == (
        f"integrations: csv: {run.path / 'metrics.csv'} · system: psutil every 30s, NVML off (disabled)")
