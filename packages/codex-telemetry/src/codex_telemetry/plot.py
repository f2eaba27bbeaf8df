"""Loss plots: a PNG of training curves from ``metrics.ndjson`` rows, one or several runs
overlaid. Rendered with matplotlib's Agg canvas (no display, no pyplot state); matplotlib
is imported on use (extra ``codex-telemetry[plot]``)."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from codex_core.errors import ComponentError
from codex_core.fsutil import atomic_write

# (metric name, panel title)
PANELS: tuple[tuple[str, str], ...] = (
    ("train/loss", "loss"),
    ("val/loss", "val loss"),
    ("train/lr", "learning rate"),
    ("train/tokens_per_s", "throughput (tokens/s)"),
)


def series(rows: Iterable[Mapping[str, Any]], name: str) -> tuple[list[int], list[float]]:
    """``(steps, values)`` of metric ``name`` in ``metrics.ndjson`` rows
    (``{"step": .., "metrics": {..}}``); rows without it, or with a non-finite value, are
    skipped. A step logged twice keeps its last value."""
    by_step: dict[int, float] = {}
    for row in rows:
        value = (row.get("metrics") or {}).get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            by_step[int(row["step"])] = float(value)
    steps = sorted(by_step)
    return steps, [by_step[s] for s in steps]


def plot_runs(runs: Sequence[tuple[str, list[dict[str, Any]]]], out: str | Path) -> Path:
    """Render the training curves of ``runs`` to the PNG ``out`` (written atomically) and
    return its path.

    Each run is ``(label, rows)`` with ``rows`` the run's ``metrics.ndjson`` rows; several
    runs are overlaid, one colour each, named in the legend. Panels: training loss,
    validation loss, learning rate and throughput (``train/loss``, ``val/loss``,
    ``train/lr``, ``train/tokens_per_s``) against the step; a panel no run has data for
    says so.
    """
    figure_cls, canvas_cls = _import_matplotlib()
    figure = figure_cls(figsize=(11, 7.5), layout="constrained")
    canvas = canvas_cls(figure)
    axes = figure.subplots(2, 2, squeeze=False).ravel()
    for ax, (name, title) in zip(axes, PANELS, strict=True):
        drawn = False
        for i, (label, rows) in enumerate(runs):
            steps, values = series(rows, name)
            if steps:
                marker = "o" if len(steps) < 20 else None
                ax.plot(steps, values, label=label, color=f"C{i % 10}", marker=marker, markersize=3)
                drawn = True
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        if not drawn:
            ax.text(0.5, 0.5, f"no {name} values", ha="center", va="center", transform=ax.transAxes, color="gray")
        if drawn and len(runs) > 1:
            ax.legend(fontsize="small")
    if len(runs) == 1:
        figure.suptitle(runs[0][0])
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return atomic_write(Path(out), buffer.getvalue())


def _import_matplotlib() -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ComponentError(
            f"plotting needs matplotlib ({type(exc).__name__}: {exc})",
            hint="pip install codex-telemetry[plot]",
        ) from exc
    return Figure, FigureCanvasAgg


def matplotlib_available() -> bool:
    """True when :func:`plot_runs` can render (matplotlib is importable)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None
