"""The ``csv`` logger, built through the registry for a run directory."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

import codex_telemetry.plugin
from codex_core.context import BuildContext
from codex_core.errors import ComponentError
from codex_core.fanout import LoggerFanout
from codex_core.protocols import Logger
from codex_core.registry import Registry


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def build(context: BuildContext, **params: Any) -> Any:
    return context.build("logger", "csv", params)


def test_csv_logger_implements_the_logger_protocol(run_context: BuildContext) -> None:
    assert isinstance(build(run_context), Logger)


def test_default_file_is_metrics_csv_in_the_run_dir(run_context: BuildContext) -> None:
    assert build(run_context).path == run_context.run_dir / "metrics.csv"


def test_rows_have_step_and_metric_columns(run_context: BuildContext) -> None:
    with build(run_context) as logger:
        logger.log_metrics({"train/loss": 2.5, "lr": 0.001}, step=10)
        logger.log_metrics({"train/loss": 2.25, "lr": 0.0005}, step=20)
    assert read_csv(logger.path) == [
        ["step", "train/loss", "lr"], ["10", "2.5", "0.001"], ["20", "2.25", "0.0005"]
    ]


def test_a_metric_appearing_later_adds_a_column_with_earlier_rows_blank(run_context: BuildContext) -> None:
    with build(run_context) as logger:
        logger.log_metrics({"train/loss": 3.0}, step=1)
        logger.log_metrics({"train/loss": 2.0, "val/loss": 2.5}, step=2)
    assert read_csv(logger.path) == [["step", "train/loss", "val/loss"], ["1", "3.0", ""], ["2", "2.0", "2.5"]]


def test_a_row_lacking_a_metric_gets_a_blank_cell(run_context: BuildContext) -> None:
    with build(run_context) as logger:
        logger.log_metrics({"a": 1.0, "b": 2.0}, step=1)
        logger.log_metrics({"b": 3.0}, step=2)
    assert read_csv(logger.path)[-1] == ["2", "", "3.0"]


def test_rows_wait_for_flush_every(run_context: BuildContext) -> None:
    logger = build(run_context, flush_every=3)
    logger.log_metrics({"a": 1.0}, step=1)
    logger.log_metrics({"a": 2.0}, step=2)
    assert not logger.path.exists()


def test_close_writes_buffered_rows(run_context: BuildContext) -> None:
    logger = build(run_context, flush_every=100)
    logger.log_metrics({"a": 1.0}, step=1)
    logger.close()
    assert read_csv(logger.path) == [["step", "a"], ["1", "1.0"]]


def test_a_second_logger_on_the_same_file_appends(run_context: BuildContext) -> None:
    with build(run_context) as first:
        first.log_metrics({"a": 1.0}, step=1)
    with build(run_context) as resumed:
        resumed.log_metrics({"a": 2.0}, step=2)
    assert read_csv(resumed.path) == [["step", "a"], ["1", "1.0"], ["2", "2.0"]]


def test_an_explicit_path_is_used(run_context: BuildContext, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "log.csv"
    with build(run_context, path=str(target)) as logger:
        logger.log_metrics({"a": 1.0}, step=1)
    assert target.exists()


def test_a_relative_path_is_relative_to_the_run_dir(run_context: BuildContext) -> None:
    assert build(run_context, path="logs/m.csv").path == run_context.run_dir / "logs" / "m.csv"


def test_without_path_or_run_dir_it_is_a_clear_error(codex_installed_registry: Registry) -> None:
    with pytest.raises(ComponentError, match="no 'path' param and no run directory"):
        codex_installed_registry.build("logger", "csv")


def test_log_params_writes_params_json_next_to_the_csv(run_context: BuildContext) -> None:
    logger = build(run_context)
    logger.log_params({"lr": 0.001})
    logger.log_params({"seed": 7})
    assert json.loads((run_context.run_dir / "params.json").read_text()) == {"lr": 0.001, "seed": 7}


def test_log_artifact_writes_nothing(run_context: BuildContext, tmp_path: Path) -> None:
    artifact = tmp_path / "weights.bin"
    artifact.write_bytes(b"\0")
    build(run_context).log_artifact(artifact, name="weights")
    assert not run_context.run_dir.exists()


def test_a_metric_named_step_is_refused(run_context: BuildContext) -> None:
    with pytest.raises(ValueError, match="'step' is its own column"):
        build(run_context).log_metrics({"step": 1.0}, step=1)


def test_logging_after_close_is_an_error(run_context: BuildContext) -> None:
    logger = build(run_context)
    logger.close()
    with pytest.raises(ValueError, match="is closed"):
        logger.log_metrics({"a": 1.0}, step=1)


def test_works_behind_the_logger_fanout(run_context: BuildContext) -> None:
    fanout = LoggerFanout([build(run_context)], names=["csv"])
    fanout.log_metrics({"a": 0.5}, step=3)
    fanout.close()
    assert read_csv(run_context.run_dir / "metrics.csv") == [["step", "a"], ["3", "0.5"]]


def test_an_unknown_param_is_an_error_naming_the_key(run_context: BuildContext) -> None:
    with pytest.raises(ComponentError, match="did you mean 'flush_every'"):
        build(run_context, flush_evry=2)


def test_registered_through_the_test_fixtures(
    register_codex_plugin, codex_registry: Registry, tmp_path: Path
) -> None:
    register_codex_plugin(codex_telemetry.plugin, name="telemetry")
    with codex_registry.build("logger", "csv", {"path": str(tmp_path / "m.csv")}) as logger:
        logger.log_metrics({"x": 1}, step=0)
    assert read_csv(tmp_path / "m.csv") == [["step", "x"], ["0", "1"]]


def test_resume_drops_the_rows_after_the_step(run_context: BuildContext) -> None:
    with build(run_context) as first:
        for step in (10, 20, 30, 40):
            first.log_metrics({"train/loss": step / 10}, step=step)
    with build(run_context) as resumed:
        resumed.resume(20)
        resumed.log_metrics({"train/loss": 3.5}, step=30)
    assert read_csv(resumed.path) == [["step", "train/loss"], ["10", "1.0"], ["20", "2.0"], ["30", "3.5"]]


def test_resume_writes_buffered_rows_first_and_keeps_the_columns(run_context: BuildContext) -> None:
    logger = build(run_context, flush_every=100)
    logger.log_metrics({"a": 1.0}, step=1)
    logger.log_metrics({"a": 2.0, "b": 5.0}, step=2)
    logger.resume(1)
    logger.close()
    assert read_csv(logger.path) == [["step", "a", "b"], ["1", "1.0", ""]]


def test_resume_without_a_file_writes_nothing(run_context: BuildContext) -> None:
    logger = build(run_context)
    logger.resume(100)
    assert not logger.path.exists()


def test_fanout_resume_reaches_the_csv_logger(run_context: BuildContext) -> None:
    fanout = LoggerFanout([build(run_context)], names=["csv"])
    for step in (1, 2, 3):
        fanout.log_metrics({"a": float(step)}, step=step)
    fanout.resume(1)
    fanout.close()
    assert [row[0] for row in read_csv(run_context.run_dir / "metrics.csv")] == ["step", "1"]


def test_describe_names_the_file(run_context: BuildContext) -> None:
    assert build(run_context).describe() == f"csv: {run_context.run_dir / 'metrics.csv'}"
