"""The MLflow store of a run disappears mid-run (its sqlite file and folder are deleted): the ``mlflow`` logger is disabled with one warning naming it and
the error, metrics.ndjson and the csv logger go on, and the run completes."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fault_jobs import Job, losses, wait_for

pytestmark = pytest.mark.slow
pytest.importorskip("mlflow")
pytest.importorskip("sqlalchemy")
pytest.importorskip("alembic")

STEPS = 40


def stored_metrics(db: Path) -> int:
    """How many metric values the store holds (0 while it is being created)."""
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM metrics").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_a_vanished_mlflow_store_costs_one_warning_and_the_run_completes(tmp_path: Path) -> None:
    store = tmp_path / "mlflow"
    store.mkdir()
    db = store / "mlflow.db"

    def with_mlflow(tree: dict[str, Any]) -> None:
        tree["loggers"] = [{"name": "csv"}, {"name": "mlflow", "params": {
            "tracking_uri": f"sqlite:///{db}", "artifact_location": (store / "artifacts").as_uri()}}]

    job = Job.create(tmp_path / "job", steps=STEPS, edit=with_mlflow)
    run = job.runs / "gone"
    process = job.start("gone")
    wait_for(lambda: stored_metrics(db) > 0, process)  # MLflow has taken the first metrics
    shutil.rmtree(store)  # the database and its folder
    _, err = process.communicate(timeout=300)

    warnings = [line for line in err.splitlines() if "WARNING" in line or "Warning" in line]
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert len(warnings) == 1 and warnings[0].startswith("codex: WARNING: logger 'mlflow' failed in "), err
    assert f"writing to sqlite:///{db} failed" in warnings[0] and "OperationalError" in warnings[0]
    assert [step for step, _ in losses(run)] == list(range(1, STEPS + 1))
    csv_steps = [line.split(",")[0] for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert sorted({int(step) for step in csv_steps}) == list(range(1, STEPS + 1))
