"""The ``tensorboard`` logger: real event files, read back with TensorBoard's own reader."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from codex_core.context import BuildContext
from codex_core.errors import ComponentError
from codex_core.fanout import LoggerFanout
from codex_core.protocols import Logger
from codex_core.registry import Registry

pytest.importorskip("tensorboard")


def build(context: BuildContext, **params: Any) -> Any:
    return context.build("logger", "tensorboard", params)


def read_scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """What TensorBoard shows: ``{tag: [(step, value), ...]}`` for every scalar tag."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return {
        tag: [(event.step, round(event.value, 6)) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }


def test_implements_the_logger_protocol(run_context: BuildContext) -> None:
    with build(run_context) as logger:
        assert isinstance(logger, Logger)


def test_scalars_are_in_event_files_under_run_tb(run_context: BuildContext) -> None:
    with build(run_context) as logger:
        logger.log_metrics({"train/loss": 2.5, "train/lr": 0.001}, step=10)
        logger.log_metrics({"train/loss": 2.25, "val/loss": 2.75}, step=20)
    assert logger.log_dir == run_context.run_dir / "tb"
    assert read_scalars(logger.log_dir) == {
        "train/loss": [(10, 2.5), (20, 2.25)],
        "train/lr": [(10, 0.001)],
        "val/loss": [(20, 2.75)],
    }


def test_values_that_are_not_numbers_are_skipped(run_context: BuildContext) -> None:
    with build(run_context) as logger:
        logger.log_metrics({"train/loss": 1.5, "note": "warmup", "missing": None}, step=1)  # type: ignore[dict-item]
    assert read_scalars(logger.log_dir) == {"train/loss": [(1, 1.5)]}


def test_after_a_resume_each_step_appears_once(run_context: BuildContext) -> None:
    with build(run_context) as first:
        for step in range(1, 7):
            first.log_metrics({"train/loss": 10.0 - step}, step=step)
    with build(run_context) as resumed:  # a new process continuing from the checkpoint at step 3
        resumed.resume(3)
        for step in range(4, 9):
            resumed.log_metrics({"train/loss": 100.0 + step}, step=step)
    assert len(list(resumed.log_dir.glob("events.out.tfevents.*"))) == 2
    assert read_scalars(resumed.log_dir)["train/loss"] == [
        (1, 9.0), (2, 8.0), (3, 7.0), (4, 104.0), (5, 105.0), (6, 106.0), (7, 107.0), (8, 108.0)
    ]


def test_resume_hides_later_steps_even_when_the_resumed_run_logs_past_them(run_context: BuildContext) -> None:
    with build(run_context) as first:
        for step in range(1, 7):
            first.log_metrics({"train/loss": 10.0 - step}, step=step)
    with build(run_context) as resumed:
        resumed.resume(3)
        resumed.log_metrics({"train/loss": 0.5}, step=10)  # no step goes back, yet 4..6 are stale
    assert read_scalars(resumed.log_dir)["train/loss"] == [(1, 9.0), (2, 8.0), (3, 7.0), (10, 0.5)]


def test_resume_through_the_fanout(run_context: BuildContext) -> None:
    fanout = LoggerFanout([build(run_context)], names=["tensorboard"])
    for step in (1, 2, 3):
        fanout.log_metrics({"a": float(step)}, step=step)
    fanout.resume(1)
    fanout.log_metrics({"a": 20.0}, step=2)
    fanout.close()
    assert fanout.disabled == {}
    assert read_scalars(run_context.run_dir / "tb") == {"a": [(1, 1.0), (2, 20.0)]}


def test_log_params_is_a_text_summary(run_context: BuildContext) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    with build(run_context) as logger:
        logger.log_params({"trainer": {"lr": 0.0003}, "seed": 7})
    accumulator = EventAccumulator(str(logger.log_dir))
    accumulator.Reload()
    (event,) = accumulator.Tensors("params")
    text = make_ndarray(event.tensor_proto).item().decode()
    assert json.loads(text.removeprefix("```json\n").removesuffix("\n```")) == {"seed": 7, "trainer": {"lr": 0.0003}}


def test_a_relative_log_dir_is_relative_to_the_run_dir(run_context: BuildContext) -> None:
    with build(run_context, log_dir="events") as logger:
        assert logger.log_dir == run_context.run_dir / "events"


def test_describe_says_where_and_how_to_view(run_context: BuildContext) -> None:
    with build(run_context) as logger:
        tb = run_context.run_dir / "tb"
        assert logger.describe() == f"tensorboard: {tb} (view: tensorboard --logdir {tb})"


def test_logging_after_close_is_an_error(run_context: BuildContext) -> None:
    logger = build(run_context)
    logger.close()
    with pytest.raises(ValueError, match="is closed"):
        logger.log_metrics({"a": 1.0}, step=1)


def test_without_log_dir_or_run_dir_it_is_a_clear_error(codex_installed_registry: Registry) -> None:
    with pytest.raises(ComponentError, match="no 'log_dir' param and no run directory"):
        codex_installed_registry.build("logger", "tensorboard")


def test_without_tensorboard_installed_the_error_names_the_extra(
    run_context: BuildContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard.summary.writer.event_file_writer", None)
    with pytest.raises(ComponentError, match=r"pip install codex-telemetry\[tensorboard\]"):
        build(run_context)
