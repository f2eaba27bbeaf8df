"""The MLflow run a codex run writes to: finding or creating it, and cutting it back on resume.

The run id is kept in ``<run dir>/mlflow_run.json`` (:data:`RUN_FILE`); :func:`open_run`
continues the run named there when it is still active in the same store, else creates a new
run in the experiment (created when missing). :func:`truncate_run` deletes the metric values
logged after a step and recomputes each metric's latest value; MLflow's client has no call to
delete metric history, so this works on an SQL store (sqlite by default) only.

These functions take an ``MlflowClient`` and are called on the logger's writer thread; mlflow
itself is imported inside them.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codex_core.errors import ComponentError

log = logging.getLogger("codex.telemetry")

RUN_FILE = "mlflow_run.json"


def stored_run_id(run_dir: Path | None, tracking_uri: str) -> str | None:
    """The MLflow run id kept in ``run_dir``'s RUN_FILE for ``tracking_uri``, or None (no run
    directory, no file, an unreadable file, or one written for another store)."""
    if run_dir is None:
        return None
    try:
        stored = json.loads((run_dir / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("tracking_uri") != tracking_uri:
        return None
    run_id = stored.get("run_id")
    return run_id if isinstance(run_id, str) and run_id else None


def experiment_id(client: Any, name: str, artifact_location: str | None, tracking_uri: str) -> str:
    """The id of the experiment ``name``, created (with ``artifact_location``) when missing;
    a ComponentError when it exists but is deleted."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return str(client.create_experiment(name, artifact_location=artifact_location))
        except MlflowException:  # created meanwhile by another process
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage != "active":
        raise ComponentError(
            f"MLflow experiment {name!r} is deleted in {tracking_uri}",
            hint="restore it (mlflow experiments restore) or set params.experiment to another name",
        )
    return str(experiment.experiment_id)


def open_run(
    client: Any,
    *,
    tracking_uri: str,
    experiment: str,
    artifact_location: str | None,
    run_dir: Path | None,
    run_name: str | None,
    tags: Mapping[str, str],
) -> tuple[str, bool, dict[str, str]]:
    """Continue the run named in ``run_dir``'s RUN_FILE (set RUNNING again), else start a new
    one tagged ``codex.run_dir`` and ``tags``. Returns ``(run_id, resumed, params)`` where
    ``params`` are those the continued run already has (empty for a new run)."""
    from mlflow.exceptions import MlflowException

    stored = stored_run_id(run_dir, tracking_uri)
    if stored is not None:
        try:
            run = client.get_run(stored)
        except MlflowException:
            run = None
        if run is not None and run.info.lifecycle_stage == "active":
            client.update_run(stored, status="RUNNING")
            return stored, True, dict(run.data.params)
        log.warning("mlflow logger: run %s of %s is gone; starting a new MLflow run", stored, run_dir)
    experiment_ = experiment_id(client, experiment, artifact_location, tracking_uri)
    run_tags = {"codex.run_dir": str(run_dir)} if run_dir is not None else {}
    run_tags.update(tags)
    run = client.create_run(experiment_, run_name=run_name, tags=run_tags)
    return run.info.run_id, False, {}


def truncate_run(client: Any, run_id: str, step: int, tracking_uri: str) -> None:
    """Set the tag ``codex.resumed_at_step`` and delete the run's metric values with a step
    after ``step``; each metric's latest value becomes the one at its highest remaining step
    (or goes, when none remains). On a store that is not an SQL store only the tag is set."""
    client.set_tag(run_id, "codex.resumed_at_step", str(step))
    store = client._tracking_client.store
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    if not isinstance(store, SqlAlchemyStore):
        log.warning(
            "mlflow logger: %s cannot delete metric values; steps after %d keep their old values "
            "next to the new ones (take the last value per step)", tracking_uri, step,
        )
        return
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric

    writable = "read_only" in inspect.signature(store.ManagedSessionMaker).parameters
    with store.ManagedSessionMaker(**({"read_only": False} if writable else {})) as session:
        session.query(SqlMetric).filter(SqlMetric.run_uuid == run_id, SqlMetric.step > step).delete(
            synchronize_session=False
        )
        stale = session.query(SqlLatestMetric).filter(SqlLatestMetric.run_uuid == run_id, SqlLatestMetric.step > step)
        for latest in stale.all():  # the latest value is now the one at the highest remaining step
            best = (
                session.query(SqlMetric)
                .filter(SqlMetric.run_uuid == run_id, SqlMetric.key == latest.key)
                .order_by(SqlMetric.step.desc(), SqlMetric.timestamp.desc(), SqlMetric.value.desc())
                .first()
            )
            if best is None:
                session.delete(latest)
            else:
                latest.value, latest.step = best.value, best.step
                latest.timestamp, latest.is_nan = best.timestamp, best.is_nan
