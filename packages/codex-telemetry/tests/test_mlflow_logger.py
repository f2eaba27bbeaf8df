"""The ``mlflow`` logger against a real MLflow sqlite store, queried back with ``MlflowClient``.

One store (a runs root with ``mlflow.db``) is shared by the tests of this module, since
creating its tables takes a few seconds; each test has its own run directory in it.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codex_core.context import BuildContext
from codex_core.errors import ComponentError
from codex_core.fanout import LoggerFanout
from codex_core.protocols import Logger
from codex_core.registry import Registry
from codex_core.runs import RunDir
from codex_telemetry.mlflow_logger import RUN_FILE, flatten_params, metric_key

pytest.importorskip("mlflow")
_names = itertools.count()


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture
def run(runs_root: Path) -> Iterator[RunDir]:
    run = RunDir.create(runs_root, f"run-{next(_names)}", config_yaml="trainer:\n  lr: 0.0003\n")
    yield run
    run.unlock()


@pytest.fixture
def context(codex_installed_registry: Registry, run: RunDir, tmp_path: Path) -> BuildContext:
    return BuildContext(registry=codex_installed_registry, run_dir=run.path, cache_dir=tmp_path / "cache")


@pytest.fixture
def client(runs_root: Path) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{(runs_root / 'mlflow.db').resolve().as_posix()}")


def build(context: BuildContext, **params: Any) -> Any:
    return context.build("logger", "mlflow", params)


def history(client: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def test_implements_the_logger_protocol(context: BuildContext) -> None:
    with build(context) as logger:
        assert isinstance(logger, Logger)


def test_the_default_store_is_sqlite_in_the_runs_root_never_the_cwd(
    context: BuildContext, runs_root: Path, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    with build(context) as logger:
        logger.log_metrics({"train/loss": 1.0}, step=1)
    assert logger.tracking_uri == f"sqlite:///{(runs_root / 'mlflow.db').resolve().as_posix()}"
    experiment = client.get_experiment_by_name("codex")
    assert experiment.artifact_location == (runs_root / "mlflow-artifacts" / "codex").resolve().as_uri()
    assert client.get_run(logger.run_id).info.artifact_uri.startswith(experiment.artifact_location)
    assert list(cwd.iterdir()) == []


def test_the_run_is_named_after_the_run_dir_and_its_id_kept_there(
    context: BuildContext, run: RunDir, client: Any
) -> None:
    with build(context) as logger:
        pass
    assert client.get_run(logger.run_id).info.run_name == run.name
    assert json.loads((run.path / RUN_FILE).read_text())["run_id"] == logger.run_id


def test_params_are_the_flattened_config(context: BuildContext, client: Any) -> None:
    with build(context) as logger:
        logger.log_params({"trainer": {"lr": 0.0003, "betas": [0.9, 0.95]}, "seed": 7, "model": {"name": "gpt2"}})
    assert client.get_run(logger.run_id).data.params == {
        "trainer.lr": "0.0003", "trainer.betas": "[0.9, 0.95]", "seed": "7", "model.name": "gpt2"
    }


def test_metrics_at_each_step(context: BuildContext, client: Any) -> None:
    with build(context) as logger:
        for step in range(1, 6):
            logger.log_metrics({"train/loss": 3.0 - step / 10, "train/lr": 1e-3, "note": "x"}, step=step)
        logger.log_metrics({"val/loss": 2.75}, step=5)
    assert history(client, logger.run_id, "train/loss") == [(1, 2.9), (2, 2.8), (3, 2.7), (4, 2.6), (5, 2.5)]
    assert history(client, logger.run_id, "val/loss") == [(5, 2.75)]
    assert set(client.get_run(logger.run_id).data.metrics) == {"train/loss", "train/lr", "val/loss"}


def test_all_store_writes_happen_on_one_writer_thread(
    context: BuildContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    threads: set[str] = set()
    original = MlflowClient.log_batch

    def log_batch(self: Any, *args: Any, **kwargs: Any) -> Any:
        threads.add(threading.current_thread().name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", log_batch)
    with build(context) as logger:
        logger.log_params({"seed": 1})
        for step in range(20):
            logger.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
    assert len(threads) == 1 and threading.current_thread().name not in threads


def test_close_uploads_config_manifest_checkpoint_summary_and_loss_plot(
    context: BuildContext, run: RunDir, client: Any
) -> None:
    for step in (10, 20):
        folder = run.checkpoints_dir / f"step-{step:08d}"
        folder.mkdir()
        (folder / "checkpoint.json").write_text(
            json.dumps({"step": step, "tokens": step * 512, "metrics": {"val/loss": 3.0 - step / 20}, "time": 1.0})
        )
    run.write_manifest({"status": "completed", "best_checkpoint": "step-00000020"})
    with build(context) as logger:
        for step in range(1, 21):
            metrics = {"train/loss": 4.0 / step, "train/lr": 1e-3, "train/tokens_per_s": 5000.0}
            run.log_metrics(step, metrics)
            logger.log_metrics(metrics, step=step)
    info = client.get_run(logger.run_id).info
    assert info.status == "FINISHED"
    assert {a.path for a in client.list_artifacts(logger.run_id)} == {
        "config.yaml", "manifest.json", "checkpoints.json", "loss.png"
    }
    summary = json.loads(Path(client.download_artifacts(logger.run_id, "checkpoints.json", str(run.artifacts_dir))).read_text())
    assert summary["best_checkpoint"] == "step-00000020"
    assert [(c["name"], c["step"], c["tokens"]) for c in summary["checkpoints"]] == [
        ("step-00000010", 10, 5120), ("step-00000020", 20, 10240)
    ]


def test_a_failed_run_ends_as_failed(context: BuildContext, run: RunDir, client: Any) -> None:
    with build(context, log_plot=False) as logger:
        run.write_manifest({"status": "failed"})
    assert client.get_run(logger.run_id).info.status == "FAILED"


def test_log_artifact_uploads_under_a_name(context: BuildContext, client: Any, tmp_path: Path) -> None:
    summary = tmp_path / "eval.json"
    summary.write_text("{}")
    with build(context, log_plot=False) as logger:
        logger.log_artifact(summary, name="reports/final.json")
    assert [a.path for a in client.list_artifacts(logger.run_id, "reports")] == ["reports/final.json"]


def test_a_new_logger_for_the_same_run_dir_continues_the_same_mlflow_run(context: BuildContext, client: Any) -> None:
    with build(context, log_plot=False) as first:
        first.log_metrics({"train/loss": 3.0}, step=1)
    with build(context, log_plot=False) as second:
        second.log_metrics({"train/loss": 2.0}, step=2)
    assert second.run_id == first.run_id and second.resumed_run
    assert history(client, first.run_id, "train/loss") == [(1, 3.0), (2, 2.0)]


def test_after_resume_each_step_appears_once(context: BuildContext, client: Any) -> None:
    with build(context, log_plot=False) as first:  # crashed at step 6; the last checkpoint is step 3
        for step in range(1, 7):
            first.log_metrics({"train/loss": 10.0 - step, "train/grad_norm": 1.0}, step=step)
        first.log_metrics({"val/loss": 5.0}, step=5)
    with build(context, log_plot=False) as resumed:
        resumed.resume(3)
        for step in range(4, 6):
            resumed.log_metrics({"train/loss": 100.0 + step}, step=step)
    run = client.get_run(resumed.run_id)
    assert history(client, resumed.run_id, "train/loss") == [(1, 9.0), (2, 8.0), (3, 7.0), (4, 104.0), (5, 105.0)]
    assert history(client, resumed.run_id, "val/loss") == []
    assert run.data.metrics == {"train/loss": 105.0, "train/grad_norm": 1.0}  # latest values recomputed
    assert run.data.tags["codex.resumed_at_step"] == "3"


def test_a_changed_param_on_resume_becomes_a_tag(context: BuildContext, client: Any) -> None:
    with build(context, log_plot=False) as first:
        first.log_params({"trainer": {"max_steps": 100, "lr": 0.001}})
    with build(context, log_plot=False) as resumed:
        resumed.log_params({"trainer": {"max_steps": 200, "lr": 0.001}})
    data = client.get_run(first.run_id).data
    assert data.params == {"trainer.max_steps": "100", "trainer.lr": "0.001"}
    assert data.tags["codex.changed_param.trainer.max_steps"] == "200"


def test_describe_names_store_experiment_and_run(context: BuildContext) -> None:
    with build(context, experiment="baselines", log_plot=False) as logger:
        assert logger.describe() == (
            f"tracking: mlflow {logger.tracking_uri} (experiment baselines, run {logger.run_id})"
        )


def test_outside_a_run_the_runs_root_comes_from_the_environment(
    codex_installed_registry: Registry, runs_root: Path, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_RUNS_DIR", str(runs_root))
    with codex_installed_registry.build("logger", "mlflow", {"run_name": "adhoc", "log_plot": False}) as logger:
        logger.log_metrics({"x": 1.0}, step=0)
    assert logger.tracking_uri == client.tracking_uri
    assert history(client, logger.run_id, "x") == [(0, 1.0)]


def refuse_writes(db: Path) -> None:
    """Make the store refuse new metric values, as a full disk would."""
    with sqlite3.connect(db) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON metrics BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )


def accept_writes(db: Path) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TRIGGER refuse")


def test_a_failing_store_disables_only_the_mlflow_logger(
    context: BuildContext, run: RunDir, runs_root: Path, client: Any
) -> None:
    mlflow_logger = build(context, log_plot=False)
    fanout = LoggerFanout([context.build("logger", "csv"), mlflow_logger], names=["csv", "mlflow"])
    for step in (1, 2):
        fanout.log_metrics({"train/loss": float(step)}, step=step)
    mlflow_logger.flush()
    refuse_writes(runs_root / "mlflow.db")
    try:
        with pytest.warns(RuntimeWarning, match="logger 'mlflow' failed") as warned:
            for step in (3, 4, 5):
                fanout.log_metrics({"train/loss": float(step)}, step=step)
            fanout.close()
    finally:
        accept_writes(runs_root / "mlflow.db")
    assert len(warned) == 1 and "database or disk is full" in str(warned[0].message)
    assert list(fanout.disabled) == ["mlflow"]
    rows = (run.path / "metrics.csv").read_text().splitlines()
    assert rows == ["step,train/loss", "1,1.0", "2,2.0", "3,3.0", "4,4.0", "5,5.0"]
    assert history(client, mlflow_logger.run_id, "train/loss") == [(1, 1.0), (2, 2.0)]


def test_an_error_on_the_writer_thread_is_raised_by_the_next_call(
    context: BuildContext, runs_root: Path
) -> None:
    logger = build(context, log_plot=False)
    refuse_writes(runs_root / "mlflow.db")
    try:
        logger.log_metrics({"train/loss": 1.0}, step=1)  # returns at once; the write fails later
        with pytest.raises(RuntimeError, match=r"mlflow logger: writing to sqlite:///.* failed"):
            logger.flush()
    finally:
        accept_writes(runs_root / "mlflow.db")
    with pytest.raises(ValueError, match="is closed"):
        logger.log_metrics({"train/loss": 2.0}, step=2)


def test_an_unopenable_store_is_a_clear_error(context: BuildContext, tmp_path: Path) -> None:
    (tmp_path / "not-a-db").write_text("plain text, not sqlite")
    with pytest.raises(ComponentError, match="cannot open the tracking store"):
        build(context, tracking_uri=f"sqlite:///{(tmp_path / 'not-a-db').as_posix()}")


def test_without_mlflow_installed_the_error_names_the_extra(
    context: BuildContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ComponentError, match=r"pip install codex-telemetry\[mlflow\]"):
        build(context)


def test_importing_the_plugin_and_logger_modules_imports_no_heavy_library() -> None:
    code = (
        "import sys, codex_telemetry.plugin, codex_telemetry.mlflow_logger, codex_telemetry.tensorboard_logger, "
        "codex_telemetry.console_logger, codex_telemetry.plot; "
        "print(sorted(m for m in ('mlflow', 'tensorboard', 'matplotlib', 'torch', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_flatten_params_cuts_values_to_mlflows_limit() -> None:
    flat = flatten_params({"data": {"prompt": "x" * 7000, "weights": {"a": 1}}, "empty": {}, "none": None})
    assert {k: len(v) for k, v in flat.items()} == {"data.prompt": 6000, "data.weights.a": 1, "empty": 2, "none": 4}


def test_metric_keys_are_made_valid() -> None:
    assert metric_key("eval/exact_match@hf:squad") == "eval/exact_match_hf_squad"
    assert metric_key("train/loss") == "train/loss"


def test_a_deleted_experiment_is_a_clear_error(context: BuildContext, client: Any) -> None:
    client.delete_experiment(client.create_experiment("gone"))
    with pytest.raises(ComponentError, match="experiment 'gone' is deleted"):
        build(context, experiment="gone")
