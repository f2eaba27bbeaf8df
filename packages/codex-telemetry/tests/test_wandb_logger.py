"""The ``wandb`` logger against real W&B offline runs, read back from W&B's own run files
(``<run dir>/wandb/offline-run-*/run-<id>.wandb``: its protobuf records) without any network.

The slow tests run real ``codex train`` processes (the fault tests' tiny job): a run read back,
a run killed and resumed (each step once over both W&B segments), ``codex logs export --to
wandb`` of a run (the same rows as its metrics.ndjson).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codex_core.context import BuildContext
from codex_core.errors import ComponentError
from codex_core.fanout import LoggerDisabledWarning, LoggerFanout
from codex_core.protocols import Logger
from codex_core.registry import Registry
from codex_core.runs import RunDir
from codex_telemetry import wandb_logger
from codex_telemetry.wandb_logger import RUN_FILE, flatten_config
from codex_telemetry.wandb_records import RunRecords, read_run, run_files

pytest.importorskip("wandb")
_names = itertools.count()


USER_ENV = ("WANDB_MODE", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_DIR", "WANDB_API_KEY")
# wandb.init sets WANDB_SERVICE in this process (the address of its wandb-core service); a child
# that inherits it would share that service, which still holds the runs of a killed child.
INHERITED_ENV = (*USER_ENV, "WANDB_SERVICE")


def wandb_env(home: Path) -> dict[str, str]:
    """W&B's settings, cache and data folders under ``home``; a server address where nothing
    listens, so any use of the network would fail."""
    return {"WANDB_CONFIG_DIR": str(home / "config"), "WANDB_CACHE_DIR": str(home / "cache"),
            "WANDB_DATA_DIR": str(home / "data"), "WANDB_BASE_URL": "http://127.0.0.1:9"}


@pytest.fixture(autouse=True)
def _no_wandb_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in USER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in wandb_env(tmp_path / "wandb-home").items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[RunDir]:
    run = RunDir.create(tmp_path / "runs", f"run-{next(_names)}", config_yaml="trainer:\n  lr: 0.0003\n")
    yield run
    run.unlock()


@pytest.fixture
def context(codex_installed_registry: Registry, run: RunDir, tmp_path: Path) -> BuildContext:
    return BuildContext(registry=codex_installed_registry, run_dir=run.path, cache_dir=tmp_path / "cache")


def build(context: BuildContext, **params: Any) -> Any:
    return context.build("logger", "wandb", params)


def history(records: RunRecords, key: str) -> list[tuple[int, float]]:
    return [(row["_step"], row[key]) for row in records.history if key in row]


def test_implements_the_logger_protocol_and_writes_offline_into_the_run_dir(context: BuildContext, run: RunDir) -> None:
    with build(context) as logger:
        assert isinstance(logger, Logger)
        logger.log_metrics({"train/loss": 1.0}, step=1)
    assert logger.mode == "offline"
    files = run_files(run.path, logger.run_id)
    assert [f.parent.parent for f in files] == [run.path.resolve() / "wandb"] and files[0].parent.name.startswith("offline-run-")
    assert json.loads((run.path / RUN_FILE).read_text())["run_id"] == logger.run_id


def test_config_history_and_summary_read_back(context: BuildContext, run: RunDir) -> None:
    with build(context, project="small", tags=["lm"], notes="a test") as logger:
        logger.log_params({"trainer": {"lr": 0.0003, "betas": [0.9, 0.95]}, "seed": 7, "model": {"name": "gpt2"}})
        for step in range(1, 6):
            metrics = {"train/loss": 3.0 - step / 10, "train/lr": 1e-3, "note": "x", "bad": float("nan")}
            run.log_metrics(step, {k: v for k, v in metrics.items() if isinstance(v, float)})
            logger.log_metrics(metrics, step=step)
        logger.log_metrics({"system/cpu_percent": 12.5}, step=5)  # the sampler, at the current step: same row
    records = read_run(run.path, logger.run_id)
    assert {k: records.config[k] for k in ("trainer.lr", "trainer.betas", "seed", "model.name")} == {
        "trainer.lr": 0.0003, "trainer.betas": [0.9, 0.95], "seed": 7, "model.name": "gpt2"}
    assert records.steps == [1, 2, 3, 4, 5]
    assert history(records, "train/loss") == [(1, 2.9), (2, 2.8), (3, 2.7), (4, 2.6), (5, 2.5)]
    assert history(records, "system/cpu_percent") == [(5, 12.5)]
    assert not any("note" in row or "bad" in row for row in records.history)
    assert records.summary["train/loss"] == 2.5 and records.summary["best/train/lr"] == 1e-3
    assert records.summary["best/train/loss"] == 2.5 and records.summary["best_step/train/loss"] == 5


def test_a_new_logger_for_the_same_run_dir_continues_the_run_and_sends_no_step_twice(context: BuildContext,
                                                                                     run: RunDir) -> None:
    with build(context) as first:
        for step in range(1, 6):
            first.log_metrics({"train/loss": 10.0 - step}, step=step)
    with build(context) as resumed:
        assert resumed.resumed_run and resumed.run_id == first.run_id and resumed.held_step == 5
        resumed.resume(3)  # from the checkpoint of step 3: steps 4 and 5 come again
        for step in range(4, 8):
            resumed.log_metrics({"train/loss": 10.0 - step}, step=step)
    records = read_run(run.path, first.run_id)
    assert records.segments == 2
    assert history(records, "train/loss") == [(s, 10.0 - s) for s in range(1, 8)]
    assert json.loads((run.path / RUN_FILE).read_text())["last_step"] == 7


def test_on_resume_the_steps_the_wandb_files_lack_are_sent_from_metrics_ndjson(context: BuildContext,
                                                                              run: RunDir) -> None:
    with build(context) as first:  # W&B got steps 1-2; metrics.ndjson has 1-5 (a process killed at step 5)
        for step in range(1, 3):
            first.log_metrics({"train/loss": 10.0 - step}, step=step)
    for step in range(1, 6):
        run.log_metrics(step, {"train/loss": 10.0 - step, **({"val/loss": 9.5} if step == 4 else {})})
    with build(context) as resumed:
        assert resumed.held_step == 2
        resumed.resume(4)  # from the checkpoint of step 4
        for step in range(5, 7):
            resumed.log_metrics({"train/loss": 10.0 - step}, step=step)
    records = read_run(run.path, first.run_id)
    assert history(records, "train/loss") == [(s, 10.0 - s) for s in range(1, 7)]
    assert history(records, "val/loss") == [(4, 9.5)]


def test_a_late_value_for_a_held_step_goes_to_the_summary(context: BuildContext, run: RunDir) -> None:
    with build(context) as logger:
        logger.log_metrics({"train/loss": 1.0}, step=4)
    with build(context) as evaluation:  # as `codex eval` does: a logger for the run, at the checkpoint's step
        evaluation.log_metrics({"eval/copy/accuracy": 0.75}, step=4)
    records = read_run(run.path, logger.run_id)
    assert records.steps == [4]
    assert records.summary["eval/copy/accuracy"] == 0.75


def test_log_artifact_and_close_log_references_not_copies(context: BuildContext, run: RunDir) -> None:
    (run.eval_dir / "step-00000002").mkdir(parents=True)
    (run.eval_dir / "step-00000002" / "copy.json").write_text('{"results": {"accuracy": 1.0}}')
    big = run.path / "notes.txt"
    big.write_text("x" * 10_000)
    with build(context) as logger:
        logger.log_artifact(big, name="my notes")
    records = read_run(run.path, logger.run_id)
    entries = {a.type: [(c.path, c.ref) for c in a.manifest.contents] for a in records.artifacts}
    assert entries == {
        "file": [("notes.txt", big.resolve().as_uri())],
        "evaluation": [("step-00000002/copy.json", (run.eval_dir / "step-00000002" / "copy.json").resolve().as_uri())],
    }
    copied = [p for p in (run.path / "wandb").rglob("*") if p.is_file() and p.stat().st_size >= 10_000
              and not p.name.endswith((".wandb", ".log"))]
    assert copied == []


def test_wandb_mode_in_the_environment_wins(context: BuildContext, run: RunDir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    with build(context, mode="offline") as logger:
        logger.log_metrics({"train/loss": 1.0}, step=1)
        assert logger.describe() == "wandb: disabled"
    assert not (run.path / "wandb").exists()
    monkeypatch.setenv("WANDB_MODE", "sometimes")
    with pytest.raises(ComponentError, match="WANDB_MODE='sometimes' is not a W&B mode"):
        build(context)


def test_describe_says_where_it_writes_and_how_to_upload(context: BuildContext, run: RunDir) -> None:
    with build(context) as logger:
        line = logger.describe()
    wandb_dir = run.path.resolve() / "wandb"
    assert line == (f"wandb: offline run {logger.run_id} in {wandb_dir} "
                    f"(upload: wandb sync {wandb_dir}/offline-run-*-{logger.run_id}*)")


def test_a_failing_write_disables_only_the_wandb_logger(
    context: BuildContext, run: RunDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wandb_logger, "STATE_EVERY_S", 0.0)  # the state file is written at every step
    csv_logger = context.build("logger", "csv")
    wandb = build(context)
    fanout = LoggerFanout([csv_logger, wandb], ["csv", "wandb"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(1, 6):
            if step == 3:  # the state file's place cannot be written any more
                (run.path / RUN_FILE).unlink()
                (run.path / RUN_FILE).mkdir()
            fanout.log_metrics({"train/loss": float(step)}, step=step)
        fanout.close()
    disabled = [w for w in caught if issubclass(w.category, LoggerDisabledWarning)]
    assert len(disabled) == 1 and "logger 'wandb' failed in log_metrics" in str(disabled[0].message)
    assert (run.path / "metrics.csv").read_text().splitlines()[1:] == [f"{s},{float(s)}" for s in range(1, 6)]
    assert history(read_run(run.path, wandb.run_id), "train/loss") == [(1, 1.0), (2, 2.0), (3, 3.0)]


def test_without_a_folder_or_wandb_the_errors_are_clear(
    codex_installed_registry: Registry, context: BuildContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ComponentError, match="no folder to write to"):
        BuildContext(registry=codex_installed_registry).build("logger", "wandb")
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ComponentError, match=r"pip install codex-telemetry\[wandb\]"):
        build(context)


def test_importing_the_plugin_and_logger_modules_imports_no_wandb() -> None:
    code = ("import sys, codex_telemetry.plugin, codex_telemetry.wandb_logger, codex_telemetry.wandb_records; "
            "print('wandb' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_flatten_config_keeps_values() -> None:
    assert flatten_config({"a": {"b": {"c": 1}}, "d": [1, 2], "e": None, "f": {}}) == {
        "a.b.c": 1, "d": [1, 2], "e": None, "f": {}}


# -- real training runs -----------------------------------------------------------------
def _with_wandb(tree: dict[str, Any]) -> None:
    tree["loggers"] = [{"name": "wandb", "params": {"project": "codex-test"}}]
    tree["telemetry"] = {"system_metrics": True, "interval": 0.3, "gpu": False}


TIMING = ("train/tokens_per_s", "train/elapsed_s", "train/mfu")  # differ between a step and its re-run


def _kept(name: str, value: Any) -> bool:
    return value is not None and not name.startswith(("_", "system/")) and name not in TIMING


def _ndjson_steps(run: Path) -> dict[int, dict[str, Any]]:
    """metrics.ndjson as one merged row per step (W&B merges what is logged at one step),
    without the timing figures."""
    merged: dict[int, dict[str, Any]] = {}
    for line in (run / "metrics.ndjson").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        merged.setdefault(row["step"], {}).update({k: v for k, v in row["metrics"].items() if _kept(k, v)})
    return merged


def _wandb_steps(records: RunRecords) -> dict[int, dict[str, Any]]:
    """The W&B history as ``{step: {metric: value}}`` without W&B's own keys, system metrics
    and the timing figures."""
    return {row["_step"]: {k: v for k, v in row.items() if _kept(k, v)} for row in records.history}


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("codex_models")
    from fault_jobs import Job

    job = Job.create(tmp_path_factory.mktemp("wandb-job"), steps=14, edit=_with_wandb)
    job.env.update(wandb_env(job.root / "wandb-home"))
    for name in INHERITED_ENV:
        job.env.pop(name, None)
    return job


@pytest.fixture(scope="module")
def resumed_run(job: Any) -> Path:
    """A run killed in its 8th step (checkpoints every 3 steps) and resumed with --resume auto."""
    process = job.start("killed", env={"CODEX_FAILPOINT": "step:8"}, killed=True)
    _, err = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, err
    code, err = job.train("killed", "--resume", "auto")
    assert code == 0, err
    return job.runs / "killed"


@pytest.mark.slow
def test_a_training_run_logs_config_steps_system_metrics_summary_and_checkpoints(job: Any) -> None:
    code, err = job.train("plain")
    assert code == 0, err
    run = job.runs / "plain"
    state = json.loads((run / RUN_FILE).read_text())
    assert f"wandb: offline run {state['run_id']} in {run.resolve() / 'wandb'}" in err
    assert "Traceback" not in err and "wandb:" not in err.replace("integrations: wandb:", "")
    records = read_run(run, state["run_id"])
    assert _wandb_steps(records) == _ndjson_steps(run)
    assert records.config["trainer.max_steps"] == 14 and records.config["model.params.n_embd"] == 64
    assert any("system/cpu_percent" in row for row in records.history)
    assert records.summary["codex/step"] == 14 and records.summary["codex/status"] == "completed"
    assert records.summary["best/val/loss"] == min(r["val/loss"] for r in _ndjson_steps(run).values() if "val/loss" in r)
    checkpoints = [a for a in records.artifacts if a.type == "model"]
    entries = checkpoints[-1].manifest.contents  # references to the files of each checkpoint, none copied
    assert sorted({c.path.split("/")[0] for c in entries}) == sorted(
        p.name for p in (run / "checkpoints").iterdir() if (p / "checkpoint.json").exists())
    assert all(c.ref.startswith((run / "checkpoints").resolve().as_uri()) for c in entries)
    assert not any(p.is_file() and p.name == "model.safetensors" for p in (run / "wandb").rglob("*"))


@pytest.mark.slow
def test_a_killed_and_resumed_run_is_one_wandb_run_with_each_step_once(resumed_run: Path) -> None:
    state = json.loads((resumed_run / RUN_FILE).read_text())
    records = read_run(resumed_run, state["run_id"])
    assert records.segments == 2
    assert records.steps == sorted(set(records.steps)) == list(range(1, 15))
    assert _wandb_steps(records) == _ndjson_steps(resumed_run)  # exact resume: the re-run steps were equal


@pytest.mark.slow
def test_logs_export_to_wandb_gives_the_rows_of_metrics_ndjson(job: Any, resumed_run: Path) -> None:
    def export(*args: str) -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-m", "codex_core", "logs", "export", str(resumed_run), "--to", "wandb",
                               "--project", "exported", "--json", *args], env=job.env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    first = export()
    assert first["mode"] == "offline" and not first["resumed"] and first["sent"] == first["rows"]
    records = read_run(resumed_run, first["run_id"])
    assert _wandb_steps(records) == _ndjson_steps(resumed_run)
    assert records.config["trainer.max_steps"] == 14
    again = export()
    assert again["run_id"] == first["run_id"] and again["resumed"] and again["sent"] == 0
    assert read_run(resumed_run, first["run_id"]).steps == list(range(1, 15))


def test_logs_export_refuses_options_of_the_other_target(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "codex_core", "logs", "export", "somerun", "--to", "wandb",
                           "--experiment", "x", "--runs-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, env={**os.environ})
    assert done.returncode == 2 and "--experiment cannot be used with --to wandb" in done.stderr
    assert "Traceback" not in done.stderr
