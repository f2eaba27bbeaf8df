"""The ``csv`` logger: metrics as rows of a CSV file, params as JSON next to it."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core.errors import ComponentError
from codex_core.fsutil import atomic_write, atomic_write_json
from codex_telemetry._closing import Closing
from codex_telemetry.params import CSVLoggerParams

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.context import BuildContext

STEP = "step"
DEFAULT_FILENAME = "metrics.csv"
PARAMS_FILENAME = "params.json"


def _cell(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _step_of(row: Mapping[str, str]) -> float:
    try:
        return float(row.get(STEP) or "nan")
    except ValueError:
        return float("nan")  # a foreign row: NaN compares false, so resume drops it


class CSVLogger(Closing):
    """Logs metrics to a CSV file (implements ``codex_core.protocols.Logger``).

    Columns are ``step`` then each metric name in the order first seen; every
    ``log_metrics`` call is one row (a metric it lacks is a blank cell). When a new metric
    name appears, the file is rewritten atomically with the union of the columns; earlier
    rows keep blanks in the new ones. Rows are buffered and written every
    ``flush_every`` calls and on :meth:`close`. An existing file (a resumed run) is
    appended to; :meth:`resume` first drops the rows after the step the run resumes from. ``log_params`` writes ``params.json`` next to the CSV;
    ``log_artifact`` does nothing (a CSV file has no place for artifacts).
    """

    def __init__(self, params: CSVLoggerParams | None = None, context: BuildContext | None = None) -> None:
        params = params if params is not None else CSVLoggerParams()
        run_dir = context.run_dir if context is not None else None
        if params.path is None and run_dir is None:
            raise ComponentError(
                "logger 'csv': no file to write to (no 'path' param and no run directory)",
                hint="set params.path, e.g. {name: csv, params: {path: metrics.csv}}",
            )
        path = Path(params.path) if params.path is not None else Path(DEFAULT_FILENAME)
        self.path = Path(run_dir) / path if run_dir is not None and not path.is_absolute() else path
        self.params_path = self.path.parent / PARAMS_FILENAME
        self.flush_every = params.flush_every
        self.columns: list[str] = self._read_header()
        self._pending: list[dict[str, str]] = []
        self._params: dict[str, Any] = {}
        self._closed = False

    # -- the Logger protocol ----------------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Merge ``params`` into ``params.json`` next to the CSV (rewritten atomically)."""
        self._check_open()
        self._params.update(params)
        atomic_write_json(self.params_path, self._params)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._check_open()
        if STEP in metrics:
            raise ValueError(f"csv logger: {STEP!r} is its own column; rename the metric")
        self._pending.append({STEP: str(step), **{k: _cell(v) for k, v in metrics.items()}})
        if len(self._pending) >= self.flush_every:
            self.flush()

    def log_artifact(self, path: str | Path, name: str | None = None) -> None:
        """Does nothing: a CSV file has no place for artifacts."""

    def resume(self, step: int) -> None:
        """The run continues from ``step``: drop the rows of later steps (the file is
        rewritten atomically), so no step appears twice once they are logged again."""
        self._check_open()
        self.flush()
        if not self.path.exists():
            return
        self._rewrite(self.columns, [row for row in self._read_rows() if _step_of(row) <= step])

    def describe(self) -> str:
        """The banner line: ``csv: <path>``."""
        return f"csv: {self.path}"

    def close(self) -> None:
        """Write buffered rows; later calls other than ``close`` are errors."""
        if not self._closed:
            self.flush()
            self._closed = True

    # -- writing ----------------------------------------------------------------------
    def flush(self) -> None:
        """Write the buffered rows: appended, or the whole file rewritten when new
        metric names appeared."""
        if not self._pending:
            return
        new: list[str] = []
        for row in self._pending:
            new += [k for k in row if k not in self.columns and k not in new]
        if new or not self.path.exists():
            self._rewrite(self.columns + new)
        else:
            with self.path.open("a", newline="", encoding="utf-8") as handle:
                csv.DictWriter(handle, fieldnames=self.columns, restval="").writerows(self._pending)
        self._pending.clear()

    def _rewrite(self, columns: list[str], rows: list[dict[str, str]] | None = None) -> None:
        """Write the whole file: ``rows`` (default: the file's rows and the buffered ones)."""
        rows = self._read_rows() + self._pending if rows is None else rows
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(self.path, buffer.getvalue())
        self.columns = columns

    def _read_header(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.path.open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), [])

    def _read_rows(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        with self.path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"csv logger for {self.path} is closed")


    def __repr__(self) -> str:
        return f"CSVLogger(path={str(self.path)!r})"
