"""Loss plots from metrics.ndjson rows, rendered to a PNG with matplotlib's Agg canvas."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from codex_core.errors import ComponentError
from codex_telemetry.plot import plot_runs, series

pytest.importorskip("matplotlib")


def rows(loss0: float, steps: int = 30, val_every: int = 10) -> list[dict[str, Any]]:
    out = []
    for step in range(1, steps + 1):
        metrics: dict[str, Any] = {
            "train/loss": loss0 / step**0.5,
            "train/lr": 3e-4 * min(1.0, step / 5),
            "train/tokens_per_s": 10_000.0 + step,
        }
        if step % val_every == 0:
            metrics["val/loss"] = loss0 / step**0.4
        out.append({"v": 1, "step": step, "time": 1.0 * step, "metrics": metrics})
    return out


def colours(png: Path) -> set[tuple[int, int, int]]:
    from PIL import Image

    with Image.open(png) as image:
        return {rgb for _, rgb in image.convert("RGB").getcolors(maxcolors=1 << 20) or []}


def test_writes_a_png_with_one_colour_per_run(tmp_path: Path) -> None:
    out = plot_runs([("a", rows(4.0)), ("b", rows(3.0))], tmp_path / "plots" / "loss.png")
    assert out == tmp_path / "plots" / "loss.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {(31, 119, 180), (255, 127, 14)} <= colours(out)  # matplotlib's C0 blue and C1 orange


def test_one_run_draws_one_colour(tmp_path: Path) -> None:
    out = plot_runs([("a", rows(4.0))], tmp_path / "one.png")
    found = colours(out)
    assert (31, 119, 180) in found and (255, 127, 14) not in found


def test_runs_without_values_still_render(tmp_path: Path) -> None:
    out = plot_runs([("empty", [{"v": 1, "step": 1, "time": 0.0, "metrics": {"system/cpu": 3.0}}])], tmp_path / "e.png")
    assert out.stat().st_size > 0


def test_series_keeps_the_last_value_per_step_and_skips_gaps() -> None:
    data = [
        {"step": 1, "metrics": {"train/loss": 3.0}},
        {"step": 2, "metrics": {"train/loss": 9.0}},
        {"step": 2, "metrics": {"train/loss": 2.0}},  # logged again after a resume
        {"step": 3, "metrics": {"train/loss": None}},  # a non-finite value in metrics.ndjson
        {"step": 4, "metrics": {"val/loss": 2.5}},
    ]
    assert series(data, "train/loss") == ([1, 2], [3.0, 2.0])


def test_without_matplotlib_the_error_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ComponentError, match=r"pip install codex-telemetry\[plot\]"):
        plot_runs([("a", rows(4.0))], tmp_path / "x.png")
