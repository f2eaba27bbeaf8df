"""Exact resume of real ``codex train`` processes: SIGKILL mid-step, SIGKILL while a
checkpoint is being written, SIGINT and SIGTERM; each resumed with ``--resume auto`` must
end with the loss curve and the weights of a run that never stopped."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from codex_models.training import checkpoint as ckpt

pytestmark = pytest.mark.slow

STEPS = 10
LAST = f"checkpoints/step-{STEPS:08d}"


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory, train_trees: Any) -> dict[str, Any]:
    """A config whose steps take long enough (~100 ms on 2 cores: 2 layers, width 64, 16 x 64
    tokens) to be interrupted inside one, checkpoints every 4 steps, and the run that never
    stopped."""
    root = tmp_path_factory.mktemp("resume")
    tree = train_trees.base_tree(train_trees.write_corpus(root / "corpus", n_files=16))
    tree["model"]["params"].update({"n_layer": 2, "n_embd": 64})
    tree["trainer"].update({"max_steps": STEPS, "seq_len": 64, "micro_batch_size": 16, "checkpoint_every": 4,
                            "eval_every": 6, "keep_last": 3})
    config = root / "run.yaml"
    config.write_text(json.dumps(tree))
    env = {**os.environ, "CODEX_HOME": str(root / "home"), "CODEX_RUNS_DIR": str(root / "runs")}
    env.pop("CODEX_DEBUG", None)
    job = {"config": config, "env": env, "runs": root / "runs"}
    done = train(job, "straight").wait(timeout=300)
    assert done == 0
    return job


def train(job: dict[str, Any], name: str, *extra: str, code: str | None = None) -> subprocess.Popen[str]:
    """Start ``codex train`` (``python -m codex_models.training``, or ``python -c code``) in a subprocess."""
    args = ["-c", str(job["config"]), f"run.name={name}", *extra]
    argv = [sys.executable, "-m", "codex_models.training", *args] if code is None else [
        sys.executable, "-c", code, *args]
    # A background test runner leaves SIGINT ignored in children: give it its default back.
    return subprocess.Popen(argv, env=job["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=300)
    return process.returncode, err


def rows(run: Path) -> list[dict[str, Any]]:
    path = run / "metrics.ndjson"
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def losses(run: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["metrics"]["train/loss"]) for r in rows(run) if "train/loss" in r["metrics"]]


def wait_for(condition: Any, process: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"training ended first ({process.returncode}): {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("timed out waiting for the run")
        time.sleep(0.005)


def assert_same_as_straight(job: dict[str, Any], run: Path, runs_io: Any) -> None:
    straight = job["runs"] / "straight"
    assert [s for s, _ in losses(run)] == list(range(1, STEPS + 1)), "every step logged once"
    assert losses(run) == losses(straight)
    assert runs_io.same_weights(run / LAST, straight / LAST)


def test_sigkill_in_the_middle_of_a_step_then_resume_auto_is_bit_identical(job, runs_io):
    run = job["runs"] / "killed"
    process = train(job, "killed")
    wait_for(lambda: (run / "checkpoints/step-00000004" / ckpt.MARKER).is_file(), process)
    wait_for(lambda: any(step >= 5 for step, _ in losses(run)), process)
    elapsed = [r["metrics"]["train/elapsed_s"] for r in rows(run) if "train/loss" in r["metrics"]]
    step_time = min(b - a for a, b in itertools.pairwise(elapsed))
    time.sleep(step_time / 2)  # step 6 is under way: its forward or backward pass
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)

    logged = max(step for step, _ in losses(run))
    assert process.returncode == -signal.SIGKILL and logged < STEPS and not (run / LAST).exists()
    code, err = finish(train(job, "killed", "--resume", "auto"))

    assert code == 0, err
    assert_same_as_straight(job, run, runs_io)
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"


# Runs the real CLI, but SIGKILLs itself inside the checkpoint writer, before the directory
# is renamed into place: the process dies mid-write exactly at the checkpoint of step 8.
DIE_WRITING = """
import os, signal, sys
from pathlib import Path
import codex_core.fsutil as c
real = c.fsync_tree
def fsync_then_die(root):
    real(root)
    if Path(root).name.startswith(".step-00000008.tmp-"):  # the checkpoint's own temporary
        os.kill(os.getpid(), signal.SIGKILL)
c.fsync_tree = fsync_then_die
from codex_models.training.launch import main
main(sys.argv[1:])
"""


def test_sigkill_while_writing_a_checkpoint_leaves_the_previous_one_for_resume(job, runs_io):
    run = job["runs"] / "dies-writing"

    code, _ = finish(train(job, "dies-writing", code=DIE_WRITING))

    assert code == -signal.SIGKILL
    assert not (run / "checkpoints/step-00000008").exists()
    assert [p.name.startswith(ckpt.TMP_PREFIX) for p in (run / "checkpoints").iterdir()].count(True) == 1
    assert ckpt.latest_checkpoint(run / "checkpoints").step == 4
    code, err = finish(train(job, "dies-writing", "--resume", "auto"))

    assert code == 0, err
    assert_same_as_straight(job, run, runs_io)
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(ckpt.TMP_PREFIX)]


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_finish_the_step_write_a_checkpoint_and_resume_exactly(job, runs_io, sig, status):
    name = f"stop-{sig.name}"
    run = job["runs"] / name
    process = train(job, name)
    wait_for(lambda: any(step >= 2 for step, _ in losses(run)), process)
    process.send_signal(sig)
    code, err = finish(process)

    manifest = json.loads((run / "manifest.json").read_text())
    assert code == status, err
    assert manifest["status"] == "stopped" and manifest["stop_reason"] == sig.name
    stopped_at = manifest["final_step"]
    assert stopped_at < STEPS and ckpt.latest_checkpoint(run / "checkpoints").step == stopped_at
    assert max(step for step, _ in losses(run)) == stopped_at, "the step under way was finished, no more"
    assert "finishing this step and writing a checkpoint" in err and "Traceback" not in err

    code, err = finish(train(job, name, "--resume", "auto"))

    assert code == 0, err
    assert_same_as_straight(job, run, runs_io)
