"""``codex logs`` run as a real subprocess on run directories written by codex_core.runs."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from codex_core.runs import RunDir


def codex_logs(*args: str, runs_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "CODEX_RUNS_DIR": str(runs_dir), **(env or {})}
    full_env.pop("CODEX_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "codex_core", "logs", *args], capture_output=True, text=True,
                          env=full_env, timeout=120)


def make_run(root: Path, name: str, steps: int = 20, *, loss0: float = 4.0, status: str = "completed",
             checkpoints: tuple[int, ...] = ()) -> RunDir:
    """A run as the training engine leaves it: train rows every step, val rows every 5,
    checkpoints with their completion marker."""
    run = RunDir.create(root, name, manifest={"status": status})
    for step in range(1, steps + 1):
        loss = loss0 / step ** 0.5
        run.log_metrics(step, {"train/loss": loss, "train/lr": 1e-3 * min(1.0, step / 5),
                               "train/tokens_per_s": 1000.0 + step, "train/tokens": 512 * step,
                               "train/elapsed_s": 0.5 * step}, when=1_700_000_000 + step)
        if step % 5 == 0:
            run.log_metrics(step, {"val/loss": loss + 0.1, "val/perplexity": 2.0 ** (loss + 0.1)})
    for step in checkpoints:
        folder = run.checkpoints_dir / f"step-{step:08d}"
        folder.mkdir()
        (folder / "checkpoint.json").write_text(json.dumps(
            {"step": step, "tokens": 512 * step, "metrics": {"val/loss": loss0 / step ** 0.5 + 0.1}, "time": 0}))
    run.unlock()
    return run


# -- tail -------------------------------------------------------------------------------
def test_tail_prints_the_last_rows(tmp_path: Path) -> None:
    make_run(tmp_path, "exp", steps=20)

    lines = codex_logs("tail", "exp", "-n", "2", runs_dir=tmp_path).stdout.splitlines()

    assert len(lines) == 2
    assert "step      20  train/loss=0.894427" in lines[0]
    assert lines[1].endswith("step      20  val/loss=0.994427  val/perplexity=1.99229")


def test_tail_follow_prints_rows_as_they_are_logged(tmp_path: Path) -> None:
    run = make_run(tmp_path, "live", steps=3)
    env = {**os.environ, "CODEX_RUNS_DIR": str(tmp_path)}
    follower = subprocess.Popen([sys.executable, "-m", "codex_core", "logs", "tail", "live", "-f", "-n", "1",
                                 "--poll", "0.05"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    assert follower.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        first = lines.get(timeout=60)
        RunDir(run.path).log_metrics(4, {"train/loss": 1.25})
        RunDir(run.path).log_metrics(5, {"train/loss": 1.125})
        appended = [lines.get(timeout=60), lines.get(timeout=60)]
    finally:
        follower.send_signal(signal.SIGTERM)
        follower.wait(timeout=60)

    assert "step       3  train/loss=2.3094" in first
    assert appended[0].rstrip().endswith("step       4  train/loss=1.25")
    assert appended[1].rstrip().endswith("step       5  train/loss=1.125")


# -- summary ----------------------------------------------------------------------------
def test_summary_json_has_final_and_best_metrics_throughput_time_and_checkpoints(tmp_path: Path) -> None:
    make_run(tmp_path, "exp", steps=20, checkpoints=(10, 20))

    info = json.loads(codex_logs("summary", "exp", "--json", runs_dir=tmp_path).stdout)

    loss = info["metrics"]["train/loss"]
    assert (loss["final_step"], loss["best_step"], loss["mode"]) == (20, 20, "min")
    assert info["metrics"]["train/lr"]["best"] == pytest.approx(1e-3)  # not loss-like: the maximum is best
    assert info["tokens_per_s_mean"] == pytest.approx(1010.5)
    assert (info["status"], info["step"], info["tokens"], info["time_s"]) == ("completed", 20, 10240, 10.0)
    assert [(c["name"], c["step"]) for c in info["checkpoints"]] == [("step-00000010", 10), ("step-00000020", 20)]


def test_best_of_a_loss_is_its_minimum_even_when_it_rose_at_the_end(tmp_path: Path) -> None:
    run = make_run(tmp_path, "diverged", steps=10)
    RunDir(run.path).log_metrics(11, {"train/loss": 50.0, "train/tokens_per_s": 0.0})

    loss = json.loads(codex_logs("summary", "latest", "--json", runs_dir=tmp_path).stdout)["metrics"]["train/loss"]

    assert (loss["final"], loss["best_step"]) == (50.0, 10)


def test_summary_text_names_status_metrics_and_checkpoints(tmp_path: Path) -> None:
    make_run(tmp_path, "exp", steps=20, checkpoints=(20,))

    out = codex_logs("summary", str(tmp_path / "exp"), runs_dir=tmp_path / "elsewhere").stdout

    assert "status      completed" in out
    assert "time        0m10s" in out
    assert "step-00000020  step 20  val/loss=0.994427" in out


def test_summary_shows_the_evaluations_of_the_runs_checkpoints(tmp_path: Path) -> None:
    run = make_run(tmp_path, "exp", steps=20, checkpoints=(20,))
    folder = run.eval_dir / "step-00000020"
    folder.mkdir(parents=True)
    (folder / "code-completion.json").write_text(json.dumps({
        "label": "code-completion", "results": {"pass@1": 0.25}, "ci": {"pass@1": [0.1, 0.4]}, "samples": 40}))

    out = codex_logs("summary", "exp", runs_dir=tmp_path).stdout
    data = json.loads(codex_logs("summary", "exp", "--json", runs_dir=tmp_path).stdout)

    assert "evaluations (codex eval):" in out
    assert any(line.split() == ["step-00000020", "code-completion", "pass@1", "0.25", "[0.1,", "0.4]", "40"]
               for line in out.splitlines())
    assert data["evaluations"] == [{"checkpoint": "step-00000020", "label": "code-completion",
                                    "results": {"pass@1": 0.25}, "ci": {"pass@1": [0.1, 0.4]}, "samples": 40}]


def test_summary_lists_only_complete_checkpoints_not_a_killed_writers_temporary(tmp_path: Path) -> None:
    run = make_run(tmp_path, "exp", steps=20, checkpoints=(10,))
    leftover = run.checkpoints_dir / ".step-00000020.tmp-123-abcd"  # killed before its rename
    leftover.mkdir()
    (leftover / "checkpoint.json").write_text(json.dumps({"step": 20, "tokens": 1, "metrics": {}}))
    (run.checkpoints_dir / "step-00000030").mkdir()  # no marker: incomplete

    info = json.loads(codex_logs("summary", "exp", "--json", runs_dir=tmp_path).stdout)

    assert [c["name"] for c in info["checkpoints"]] == ["step-00000010"]


# -- compare ----------------------------------------------------------------------------
def test_compare_shows_runs_side_by_side(tmp_path: Path) -> None:
    make_run(tmp_path, "small", loss0=4.0)
    make_run(tmp_path, "large", loss0=3.0, status="stopped")

    out = codex_logs("compare", "small", "large", runs_dir=tmp_path).stdout.splitlines()

    assert out[0].split() == ["small", "large"]
    assert next(line for line in out if line.startswith("status")).split() == ["status", "completed", "stopped"]
    assert next(line for line in out if line.startswith("train/loss")).split() == [
        "train/loss", "0.894427", "(0.894427)", "0.67082", "(0.67082)"]


def test_compare_json_is_the_list_of_summaries(tmp_path: Path) -> None:
    make_run(tmp_path, "a")
    make_run(tmp_path, "b", steps=10)

    infos = json.loads(codex_logs("compare", "a", "b", "--json", runs_dir=tmp_path).stdout)

    assert [(i["name"], i["step"]) for i in infos] == [("a", 20), ("b", 10)]


# -- errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("args", [("summary", "nope"), ("tail", "nope"), ("compare", "exp", "nope")])
def test_an_unknown_run_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    make_run(tmp_path, "exp")

    result = codex_logs(*args, runs_dir=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: no run 'nope' (not a run directory, nor a run under {tmp_path}); list runs with codex runs list"]


@pytest.mark.parametrize("args", [("summary", "empty"), ("tail", "empty"), ("plot", "empty", "-o", "x.png"),
                                  ("export", "empty", "--to", "mlflow")])
def test_a_run_without_metrics_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    RunDir.create(tmp_path, "empty").unlock()

    result = codex_logs(*args, runs_dir=tmp_path)

    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "run empty has no metrics yet" in result.stderr


@pytest.mark.parametrize(("missing", "args", "message"), [
    ("matplotlib", ("plot", "exp", "-o", "x.png"), "error: plotting needs matplotlib"),
    ("mlflow", ("export", "exp", "--to", "mlflow"), "error: logger 'mlflow' needs mlflow-skinny"),
])
def test_a_missing_extra_is_one_line_and_exit_2(tmp_path: Path, missing: str, args: tuple[str, ...],
                                                message: str) -> None:
    make_run(tmp_path, "exp", steps=3)
    blocked = tmp_path / "blocked" / missing  # a package that fails to import, as an absent one does
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text(f'raise ImportError("No module named {missing!r}")\n')
    pythonpath = os.pathsep.join(filter(None, [str(blocked.parent), os.environ.get("PYTHONPATH")]))

    result = codex_logs(*args, runs_dir=tmp_path, env={"PYTHONPATH": pythonpath})

    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(message)


def test_logs_is_listed_by_codex_help(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "codex_core", "--help"], capture_output=True, text=True,
                            timeout=120)

    assert any(line.split()[:1] == ["logs"] for line in result.stdout.splitlines())



# -- plot -------------------------------------------------------------------------------
def test_plot_renders_several_runs_to_a_png(tmp_path: Path) -> None:
    from PIL import Image

    make_run(tmp_path, "a", loss0=4.0)
    make_run(tmp_path, "b", loss0=3.0)
    out = tmp_path / "plots" / "curves.png"

    result = codex_logs("plot", "a", "b", "-o", str(out), runs_dir=tmp_path)

    assert result.stdout.strip() == f"wrote {out}"
    with Image.open(out) as image:
        pixels = image.convert("RGB")
        size = image.size
    colours = pixels.getcolors(maxcolors=1 << 20) or []
    non_white = sum(count for count, rgb in colours if rgb != (255, 255, 255))
    assert size == (1100, 750)  # the figure: 11 x 7.5 inches at 100 dpi
    assert len(colours) > 50 and non_white > size[0] * size[1] // 50
    assert {(31, 119, 180), (255, 127, 14)} <= {rgb for _, rgb in colours}  # run a in C0 blue, run b in C1 orange


# -- export -----------------------------------------------------------------------------
def mlflow_runs(uri: str) -> list[Any]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    return [run for exp in client.search_experiments() for run in client.search_runs([exp.experiment_id])]


def test_export_to_mlflow_ingests_every_step(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    make_run(tmp_path, "exp", steps=12)
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()

    result = codex_logs("export", "exp", "--to", "mlflow", "--tracking-uri", uri, "--experiment", "baselines",
                        "--json", runs_dir=tmp_path)

    info = json.loads(result.stdout)
    client = MlflowClient(tracking_uri=uri)
    history = client.get_metric_history(info["run_id"], "train/loss")
    run = client.get_run(info["run_id"])
    assert sorted((m.step, m.value) for m in history) == [(s, pytest.approx(4.0 / s ** 0.5)) for s in range(1, 13)]
    assert [m.step for m in client.get_metric_history(info["run_id"], "val/loss")] == [5, 10]
    assert (run.info.run_name, run.info.status) == ("exp", "FINISHED")
    assert client.get_experiment(run.info.experiment_id).name == "baselines"
    assert "metrics.ndjson" in {a.path for a in client.list_artifacts(info["run_id"])}


@pytest.mark.slow
def test_export_again_replaces_the_metrics_in_the_default_store(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    make_run(tmp_path, "exp", steps=6)

    first = json.loads(codex_logs("export", "exp", "--to", "mlflow", "--json", runs_dir=tmp_path).stdout)
    second = json.loads(codex_logs("export", "exp", "--to", "mlflow", "--json", runs_dir=tmp_path).stdout)

    uri = f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"  # the mlflow logger's default: beside the runs
    history = MlflowClient(tracking_uri=uri).get_metric_history(second["run_id"], "train/loss")
    assert second["run_id"] == first["run_id"] and second["replaced"]
    assert sorted(m.step for m in history) == [1, 2, 3, 4, 5, 6]
