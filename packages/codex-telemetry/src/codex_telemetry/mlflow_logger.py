"""The ``mlflow`` logger: params, metrics and artifacts of a run in an MLflow tracking store.

By default the store is a sqlite database beside the runs, ``sqlite:///<runs root>/mlflow.db``,
with artifacts under ``<runs root>/mlflow-artifacts/<experiment>``: fully offline, nothing in
the current directory. ``mlflow`` is imported when the logger is built (extra
``codex-telemetry[mlflow]``); MLflow's usage telemetry is switched off unless the environment
says otherwise (``MLFLOW_DISABLE_TELEMETRY``).

All reads and writes of the store happen on one background writer thread, fed by a queue
(:mod:`codex_telemetry.mlflow_writer`): ``log_metrics`` returns at once and consecutive metric
calls are written together with ``log_batch``. An error on that thread is raised by the
logger's next call (so ``LoggerFanout`` disables it with one warning, and training goes on);
what was written before stays in the store. MLflow's own log record of such an error (a
traceback, on every database error) is dropped for that thread: the error is reported once, by
the logger's caller.

Resume: the MLflow run id is kept in ``<run dir>/mlflow_run.json``; a logger built for a run
directory that has one continues that MLflow run. ``resume(step)`` deletes the metric values
logged for later steps from the store (a sqlite/SQL store; MLflow's client has no call to
delete metric history), so ``MlflowClient.get_metric_history`` shows each step once after the
engine logs them again; it also sets the tag ``codex.resumed_at_step``. Finding, creating and
cutting back the MLflow run is :mod:`codex_telemetry.mlflow_store`.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import posixpath
import re
import shutil
import tempfile
import time
import weakref
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from codex_core.errors import ComponentError
from codex_core.fsutil import atomic_write_json
from codex_telemetry._closing import Closing
from codex_telemetry.mlflow_store import RUN_FILE, open_run, truncate_run
from codex_telemetry.mlflow_writer import WRITER_PREFIX, StoreWriter, error_gist, quiet_store_errors
from codex_telemetry.params import MLflowLoggerParams

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.context import BuildContext

log = logging.getLogger("codex.telemetry")

DB_FILENAME = "mlflow.db"
ARTIFACTS_DIRNAME = "mlflow-artifacts"
MAX_KEY_LENGTH = 250  # MLflow's limits (mlflow.utils.validation)
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_PARAMS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
EXIT_FLUSH_TIMEOUT_S = 30.0
# manifest status -> MLflow run status at close (anything else: FINISHED)
END_STATUS = {"failed": "FAILED", "error": "FAILED", "interrupted": "KILLED", "killed": "KILLED"}


# -- helpers without mlflow -------------------------------------------------------------
def sqlite_uri(path: str | Path) -> str:
    """The ``sqlite:///`` tracking URI of a database file (made absolute)."""
    return "sqlite:///" + Path(path).resolve().as_posix()


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as MLflow params: keys joined with dots (``{"trainer": {"lr": 3e-4}}``
    -> ``{"trainer.lr": "0.0003"}``), values as strings (lists and other non-scalars as
    JSON), keys and values cut to MLflow's limits (250 and 6000 characters)."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, prefix=f"{name}."))
            continue
        if isinstance(value, str):
            text = value
        elif value is None or isinstance(value, (bool, int, float)):
            text = str(value)
        else:
            text = json.dumps(value, default=str, sort_keys=True)
        flat[metric_key(name)] = text[:MAX_PARAM_VALUE_LENGTH]
    return flat


def metric_key(name: str) -> str:
    """``name`` as a valid MLflow key: characters other than letters, digits, ``_-. /``
    become ``_`` and it is cut to 250 characters."""
    key = re.sub(r"[^\w\-. /]", "_", str(name))[:MAX_KEY_LENGTH]
    if posixpath.normpath(key) != key or key.startswith(("/", ".")):
        key = re.sub(r"[/.]", "_", key)
    return key or "_"


def _import_mlflow() -> Any:
    """The ``mlflow`` module (usage telemetry off), or a ComponentError naming the extra."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import alembic  # noqa: F401  (the sqlite store needs them; fail here, clearly)
        import mlflow
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise ComponentError(
            f"logger 'mlflow' needs mlflow-skinny, sqlalchemy and alembic ({type(exc).__name__}: {exc})",
            hint="pip install codex-telemetry[mlflow]",
        ) from exc
    quiet_store_errors()
    return mlflow


# -- flush at interpreter exit -----------------------------------------------------------
def _flush_at_exit(ref: weakref.ref[MLflowLogger]) -> None:
    logger = ref()
    if logger is not None and not logger.closed:
        try:
            logger.flush(timeout=EXIT_FLUSH_TIMEOUT_S)
        except Exception as exc:
            log.warning("mlflow logger: could not write everything at exit (%s: %s)", type(exc).__name__, exc)


# -- the logger ---------------------------------------------------------------------------
class MLflowLogger(Closing):
    """Logs to an MLflow run (implements ``codex_core.protocols.Logger``).

    * ``log_params``: the nested config flattened to dotted keys (``trainer.lr``). MLflow
      params cannot change; a value that differs from the one the (resumed) run already has
      is recorded as the tag ``codex.changed_param.<key>`` instead.
    * ``log_metrics``: one value per metric and step (names made valid MLflow keys; values
      that are not numbers are skipped).
    * ``log_artifact``: uploads a file (or a folder) to the run's artifacts, as ``name``
      when given (``"plots/loss.png"``). The file is read on the writer thread: keep it
      until :meth:`flush` or :meth:`close`.
    * ``close``: uploads the run directory's ``config.yaml``, ``manifest.json``, a summary
      of its checkpoints (``checkpoints.json``) and a loss plot (``loss.png``, when
      matplotlib is installed), then ends the MLflow run (FAILED or KILLED when the
      manifest says the run failed or was interrupted, else FINISHED).
    """

    def __init__(self, params: MLflowLoggerParams | None = None, context: BuildContext | None = None) -> None:
        params = params if params is not None else MLflowLoggerParams()
        self.params = params
        run_dir = context.run_dir if context is not None else None
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if self.run_dir is not None:
            root = self.run_dir.parent
        else:
            from codex_core.runs import runs_root

            root = runs_root()
        self.runs_root = root.resolve()
        self.tracking_uri = params.tracking_uri or sqlite_uri(self.runs_root / DB_FILENAME)
        self.experiment = params.experiment
        self.artifact_location = params.artifact_location
        if self.artifact_location is None and self.tracking_uri.startswith("sqlite:"):
            self.artifact_location = (self.runs_root / ARTIFACTS_DIRNAME / self.experiment).as_uri()
        run_name = params.run_name or (self.run_dir.name if self.run_dir is not None else None)

        _import_mlflow()
        self._client: Any = None
        self._logged_params: dict[str, str] = {}
        self._rows: list[dict[str, Any]] = []  # what was logged here, for the loss plot
        self.closed = False
        self.resumed_run = False
        self._writer = StoreWriter(f"{WRITER_PREFIX}{id(self):x}", self._write_metrics)
        self._writer.start()
        try:
            self.run_id, self.resumed_run = self._writer.submit(
                functools.partial(self._open_run, run_name)
            ).result()
        except Exception as exc:
            self._writer.stop()
            self.closed = True
            if isinstance(exc, ComponentError):
                raise
            raise ComponentError(
                f"logger 'mlflow': cannot open the tracking store {self.tracking_uri} "
                f"({type(exc).__name__}: {error_gist(exc)})",
                hint="check params.tracking_uri and that the store is writable",
            ) from exc
        self._exit_hook = functools.partial(_flush_at_exit, weakref.ref(self))
        atexit.register(self._exit_hook)
        if self.run_dir is not None:
            atomic_write_json(
                self.run_dir / RUN_FILE,
                {"tracking_uri": self.tracking_uri, "experiment": self.experiment, "run_id": self.run_id},
            )
            if (self.run_dir / "config.yaml").is_file():
                self.log_artifact(self.run_dir / "config.yaml")

    # -- the Logger protocol ----------------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log ``params`` flattened to dotted keys (see :func:`flatten_params`)."""
        self._check()
        flat = flatten_params(params)
        self._writer.submit(functools.partial(self._write_params, flat))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Queue one value per metric at ``step``; returns without waiting for the store."""
        self._check()
        from mlflow.entities import Metric

        now_ms = int(time.time() * 1000)
        numbers = {name: float(v) for name, v in metrics.items() if _is_number(v)}
        if not numbers:
            return
        self._rows.append({"step": int(step), "metrics": numbers})
        self._writer.queue.put([Metric(metric_key(k), v, now_ms, int(step)) for k, v in numbers.items()])

    def log_artifact(self, path: str | Path, name: str | None = None) -> None:
        """Queue the upload of a file or folder (as ``name`` when given)."""
        self._check()
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"mlflow logger: no artifact at {path}")
        self._writer.submit(functools.partial(self._upload, path, name))

    def resume(self, step: int) -> None:
        """The run continues from ``step``: delete this MLflow run's metric values of later
        steps (each step then appears once once the engine logs it again) and set the tag
        ``codex.resumed_at_step``. Where the store is not an SQL store, values cannot be
        deleted: only the tag is set, and a reader should keep the last value per step."""
        self._check()
        self._rows = [row for row in self._rows if row["step"] <= step]
        self._writer.submit(functools.partial(self._truncate, int(step)))

    def describe(self) -> str:
        """The banner line: ``tracking: mlflow <uri> (experiment <name>, run <id>)``."""
        resumed = ", resumed" if self.resumed_run else ""
        return f"tracking: mlflow {self.tracking_uri} (experiment {self.experiment}, run {self.run_id}{resumed})"

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything logged so far is in the store; raise the writer's error."""
        self._check()
        done = self._writer.submit(lambda: None)
        done.exception(timeout)  # waits; the writer's error (if any) is raised by _check
        self._check()

    def close(self) -> None:
        """Upload the run directory's files, end the MLflow run and stop the writer thread
        after everything logged is written; raise the writer's error if it had one."""
        if self.closed:
            return
        self.closed = True
        atexit.unregister(self._exit_hook)
        if self._writer.error is None:
            self._writer.submit(self._finish)
        self._writer.stop()
        if self._writer.error is not None:
            raise RuntimeError(self._failure()) from self._writer.error

    # -- on the writer thread ----------------------------------------------------------
    def _open_run(self, run_name: str | None) -> tuple[str, bool]:
        """Continue the run named in the run directory's RUN_FILE, else start a new one."""
        from mlflow import MlflowClient

        self._client = MlflowClient(tracking_uri=self.tracking_uri)
        run_id, resumed, self._logged_params = open_run(
            self._client,
            tracking_uri=self.tracking_uri,
            experiment=self.experiment,
            artifact_location=self.artifact_location,
            run_dir=self.run_dir,
            run_name=run_name,
            tags=self.params.tags,
        )
        return run_id, resumed

    def _write_metrics(self, metrics: list[Any]) -> None:
        for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):
            self._client.log_batch(self.run_id, metrics=metrics[start : start + MAX_METRICS_PER_BATCH])

    def _write_params(self, flat: Mapping[str, str]) -> None:
        from mlflow.entities import Param, RunTag

        new = [Param(k, v) for k, v in flat.items() if k not in self._logged_params]
        changed = [
            RunTag(f"codex.changed_param.{k}"[:MAX_KEY_LENGTH], v[:MAX_TAG_VALUE_LENGTH])
            for k, v in flat.items()
            if k in self._logged_params and self._logged_params[k] != v
        ]
        for start in range(0, len(new), MAX_PARAMS_PER_BATCH):
            self._client.log_batch(self.run_id, params=new[start : start + MAX_PARAMS_PER_BATCH])
        for start in range(0, len(changed), MAX_PARAMS_PER_BATCH):
            self._client.log_batch(self.run_id, tags=changed[start : start + MAX_PARAMS_PER_BATCH])
        self._logged_params.update({p.key: p.value for p in new})

    def _upload(self, path: Path, name: str | None) -> None:
        if path.is_dir():
            self._client.log_artifacts(self.run_id, str(path), artifact_path=name)
            return
        target = PurePosixPath(name) if name else PurePosixPath(path.name)
        folder = str(target.parent) if str(target.parent) != "." else None
        if target.name == path.name:
            self._client.log_artifact(self.run_id, str(path), artifact_path=folder)
            return
        with tempfile.TemporaryDirectory(prefix="codex-mlflow-") as staging:
            renamed = Path(staging) / target.name
            shutil.copyfile(path, renamed)
            self._client.log_artifact(self.run_id, str(renamed), artifact_path=folder)

    def _truncate(self, step: int) -> None:
        """Delete this run's metric values with a step after ``step`` (SQL stores)."""
        truncate_run(self._client, self.run_id, step, self.tracking_uri)

    def _finish(self) -> None:
        """Upload the run directory's files and the loss plot, then end the MLflow run."""
        status = "FINISHED"
        with tempfile.TemporaryDirectory(prefix="codex-mlflow-") as staging:
            if self.run_dir is not None:
                manifest = self._read_json(self.run_dir / "manifest.json")
                status = END_STATUS.get(str(manifest.get("status", "")).lower(), "FINISHED")
                for name in ("config.yaml", "manifest.json"):
                    if (self.run_dir / name).is_file():
                        self._upload(self.run_dir / name, None)
                summary = self._checkpoint_summary(manifest)
                if summary["checkpoints"]:
                    path = atomic_write_json(Path(staging) / "checkpoints.json", summary)
                    self._upload(path, None)
            plot = self._loss_plot(Path(staging) / "loss.png")
            if plot is not None:
                self._upload(plot, None)
        self._client.set_terminated(self.run_id, status=status)

    def _checkpoint_summary(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """``{"best_checkpoint": .., "checkpoints": [{name, step, tokens, time, metrics}]}``
        from the complete checkpoints (those with a ``checkpoint.json``)."""
        from codex_core.runs import RunDir

        assert self.run_dir is not None
        checkpoints = [{"name": info.path.name, **{k: info.meta.get(k) for k in ("step", "tokens", "time", "metrics")}}
                       for info in RunDir(self.run_dir).checkpoints(warn=True)]
        return {"best_checkpoint": manifest.get("best_checkpoint"), "checkpoints": checkpoints}

    def _loss_plot(self, out: Path) -> Path | None:
        """The loss plot of this run (from metrics.ndjson, else from what was logged here),
        or None without matplotlib, without values, or when ``log_plot`` is off."""
        from codex_telemetry.plot import matplotlib_available, plot_runs

        if not self.params.log_plot or not matplotlib_available():
            return None
        rows: list[dict[str, Any]] = []
        if self.run_dir is not None:
            from codex_core.runs import RunDir

            rows = list(RunDir(self.run_dir).read_metrics())
        rows = rows or list(self._rows)
        if not rows:
            return None
        label = self.run_dir.name if self.run_dir is not None else self.run_id
        return plot_runs([(label, rows)], out)

    @staticmethod
    def _read_json(path: Path) -> dict[str, Any]:
        try:
            value = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    # -- helpers ----------------------------------------------------------------------
    def _check(self) -> None:
        if self.closed:
            raise ValueError(f"mlflow logger for run {getattr(self, 'run_id', '?')} is closed")
        if self._writer.error is not None:
            self.closed = True
            atexit.unregister(self._exit_hook)
            self._writer.stop(timeout=0)
            raise RuntimeError(self._failure()) from self._writer.error

    def _failure(self) -> str:
        error = self._writer.error
        return f"mlflow logger: writing to {self.tracking_uri} failed ({type(error).__name__}: {error_gist(error)})"


    def __repr__(self) -> str:
        return f"MLflowLogger(tracking_uri={self.tracking_uri!r}, run_id={getattr(self, 'run_id', None)!r})"


def _is_number(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
