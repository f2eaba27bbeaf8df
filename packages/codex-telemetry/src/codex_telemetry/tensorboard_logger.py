"""The ``tensorboard`` logger: metrics as TensorBoard scalars in event files.

Uses TensorBoard's own event-file writer and protos (the ``tensorboard`` package), not
``torch.utils.tensorboard`` or TensorFlow, so it needs neither. ``tensorboard`` is imported
when the logger is built (extra ``codex-telemetry[tensorboard]``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core.errors import ComponentError
from codex_telemetry._closing import Closing
from codex_telemetry.params import TensorBoardLoggerParams

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.context import BuildContext

DEFAULT_DIRNAME = "tb"


def _import_tensorboard() -> tuple[Any, Any, Any]:
    """``(EventFileWriter, event_pb2, summary_pb2)``, or a ComponentError naming the extra."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as exc:
        raise ComponentError(
            f"logger 'tensorboard' needs the tensorboard package ({type(exc).__name__}: {exc})",
            hint="pip install codex-telemetry[tensorboard]",
        ) from exc
    return EventFileWriter, event_pb2, summary_pb2


class TensorBoardLogger(Closing):
    """Logs metrics as TensorBoard scalars (implements ``codex_core.protocols.Logger``).

    Each ``log_metrics`` call is one event whose scalars are tagged with the metric names
    (``train/loss`` shows in TensorBoard's ``train`` group). Every logger writes a new event
    file in ``log_dir``; TensorBoard reads them all. ``log_params`` writes the params as a
    text summary named ``params``; ``log_artifact`` does nothing.

    :meth:`resume` does what ``SummaryWriter(purge_step=step + 1)`` does: it writes a
    ``SessionLog.START`` event at ``step + 1``, and TensorBoard then hides every event of the
    earlier files with a step at or past it, so a step logged again after a resume appears
    once.
    """

    def __init__(
        self, params: TensorBoardLoggerParams | None = None, context: BuildContext | None = None
    ) -> None:
        params = params if params is not None else TensorBoardLoggerParams()
        run_dir = context.run_dir if context is not None else None
        if params.log_dir is None and run_dir is None:
            raise ComponentError(
                "logger 'tensorboard': no folder to write to (no 'log_dir' param and no run directory)",
                hint="set params.log_dir, e.g. {name: tensorboard, params: {log_dir: tb}}",
            )
        log_dir = Path(params.log_dir) if params.log_dir is not None else Path(DEFAULT_DIRNAME)
        self.log_dir = Path(run_dir) / log_dir if run_dir is not None and not log_dir.is_absolute() else log_dir
        event_file_writer, self._event_pb2, self._summary_pb2 = _import_tensorboard()
        self._writer = event_file_writer(str(self.log_dir), flush_secs=params.flush_secs)
        self._closed = False

    # -- the Logger protocol ----------------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Write ``params`` as a text summary ``params`` (pretty-printed JSON) at step 0."""
        self._check_open()
        from tensorboard.plugins.text.metadata import create_summary_metadata
        from tensorboard.util.tensor_util import make_tensor_proto

        text = "```json\n" + json.dumps(dict(params), indent=2, sort_keys=True, default=str) + "\n```"
        value = self._summary_pb2.Summary.Value(
            tag="params",
            metadata=create_summary_metadata(display_name="params", description="the run's params"),
            tensor=make_tensor_proto([text]),
        )
        self._add(step=0, summary=self._summary_pb2.Summary(value=[value]))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """One event with a scalar per metric; values that are not numbers are skipped."""
        self._check_open()
        values = [
            self._summary_pb2.Summary.Value(tag=name, simple_value=number)
            for name, value in metrics.items()
            if (number := _number(value)) is not None
        ]
        if values:
            self._add(step=step, summary=self._summary_pb2.Summary(value=values))

    def log_artifact(self, path: str | Path, name: str | None = None) -> None:
        """Does nothing: TensorBoard event files have no place for artifacts."""

    def resume(self, step: int) -> None:
        """The run continues from ``step``: hide the events of later steps in TensorBoard
        (a ``SessionLog.START`` event at ``step + 1``, as ``SummaryWriter(purge_step=)``)."""
        self._check_open()
        purge_step = int(step) + 1
        self._add(step=purge_step, session_log=self._event_pb2.SessionLog(status=self._event_pb2.SessionLog.START))
        self._writer.flush()

    def describe(self) -> str:
        """The banner line: ``tensorboard: <log dir>``."""
        return f"tensorboard: {self.log_dir} (view: tensorboard --logdir {self.log_dir})"

    def flush(self) -> None:
        """Write the queued events to the event file."""
        self._check_open()
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file; later calls other than ``close`` are errors."""
        if not self._closed:
            self._closed = True
            self._writer.close()

    # -- helpers ----------------------------------------------------------------------
    def _add(self, step: int, **fields: Any) -> None:
        self._writer.add_event(self._event_pb2.Event(wall_time=time.time(), step=int(step), **fields))

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"tensorboard logger for {self.log_dir} is closed")


    def __repr__(self) -> str:
        return f"TensorBoardLogger(log_dir={str(self.log_dir)!r})"


def _number(value: Any) -> float | None:
    """``value`` as a float, or None for what is not a number (None, strings)."""
    if value is None or isinstance(value, str):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
