"""The ``console`` logger: a concise line per logging step when output is not a terminal."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest

from codex_core.context import BuildContext
from codex_core.protocols import Logger
from codex_telemetry.console_logger import format_line

STEP_METRICS = {
    "train/loss": 2.34561,
    "train/lr": 3e-4,
    "train/grad_norm": 0.8123,
    "train/tokens_per_s": 12345.0,
    "train/tokens": 2_500_000,
    "train/elapsed_s": 3723.4,
    "system/cpu_percent": 55.0,
}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def build(context: BuildContext, **params: Any) -> Any:
    return context.build("logger", "console", params)


def test_implements_the_logger_protocol(run_context: BuildContext) -> None:
    assert isinstance(build(run_context), Logger)


def test_prints_one_concise_line_per_step_when_not_a_terminal(
    run_context: BuildContext, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = build(run_context)
    logger.log_metrics(STEP_METRICS, step=100)
    logger.log_metrics({"val/loss": 2.5, "val/perplexity": 12.18249}, step=100)
    assert capsys.readouterr().out.splitlines() == [
        "step 100 | loss 2.3456 | lr 3.00e-04 | gnorm 0.812 | 12.3k tok/s | tokens 2.50M | elapsed 1:02:03",
        "step 100 | val/loss 2.5000 | val/ppl 12.18",
    ]


def test_system_metrics_are_printed_only_when_asked(
    run_context: BuildContext, capsys: pytest.CaptureFixture[str]
) -> None:
    build(run_context, system=True).log_metrics({"train/loss": 1.0, "system/cpu_percent": 55.0}, step=1)
    assert capsys.readouterr().out == "step 1 | loss 1.0000 | system/cpu_percent 55\n"


def test_other_metrics_follow_with_four_significant_digits() -> None:
    assert format_line({"eval/exact_match": 0.123456, "train/loss": 3.0}, step=7) == (
        "step 7 | loss 3.0000 | eval/exact_match 0.1235"
    )


def test_non_finite_and_missing_values() -> None:
    assert format_line({"train/loss": float("nan"), "note": None}, step=3) == "step 3 | loss nan"


def test_quiet_on_a_terminal(run_context: BuildContext, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    build(run_context).log_metrics({"train/loss": 1.0}, step=1)
    assert terminal.getvalue() == ""


def test_always_prints_on_a_terminal_too(run_context: BuildContext, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    build(run_context, always=True).log_metrics({"train/loss": 1.0}, step=1)
    assert terminal.getvalue() == "step 1 | loss 1.0000\n"


def test_stderr_stream(run_context: BuildContext, capsys: pytest.CaptureFixture[str]) -> None:
    build(run_context, stream="stderr").log_metrics({"train/loss": 1.0}, step=2)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "step 2 | loss 1.0000\n")


def test_params_and_artifacts_print_nothing(run_context: BuildContext, capsys: pytest.CaptureFixture[str]) -> None:
    logger = build(run_context)
    logger.log_params({"lr": 0.1})
    logger.log_artifact("config.yaml")
    logger.close()
    assert capsys.readouterr().out == ""


def test_describe(run_context: BuildContext) -> None:
    assert build(run_context).describe() == "console: stdout (when not a terminal)"
    assert build(run_context, always=True, stream="stderr").describe() == "console: stderr"


def test_works_outside_a_run(codex_installed_registry, capsys: pytest.CaptureFixture[str]) -> None:
    codex_installed_registry.build("logger", "console").log_metrics({"train/loss": 0.5}, step=1)
    assert capsys.readouterr().out == "step 1 | loss 0.5000\n"
