"""Training on several processes: ``codex train --nproc 2`` (torchrun, gloo on CPU) gives the
loss curve of one process with the same global batch, with DDP and with FSDP2, resumes
exactly, writes each metrics row and checkpoint once, and fails with one line.

A tiny GPT-2 (dropout 0) on the char tokenizer and a small synthetic ``text`` dataset;
one process takes a global batch of 8 windows as 4 micro batches of 2, two processes as 2
micro batches of 2 each.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from codex_models.training.parallel import Dist, PeerError

STEPS = 8
TOLERANCE = 1e-5

CONFIG = """\
run: {seed: 7}
tokenizer: {name: char}
data:
  name: text
  params: {paths: [DATA]}
  split: {train: 0.85, val: 0.15, test: 0.0}
model:
  name: gpt2
  params: {n_layer: 2, n_head: 2, n_embd: 32, dropout: 0.0}
loggers: []
metrics: []
trainer:
  max_steps: 8
  seq_len: 32
  micro_batch_size: 2
  global_batch_size: 8
  lr: 3.0e-3
  warmup_steps: 2
  log_every: 1
  eval_every: 4
  eval_batches: 2
  checkpoint_every: 4
  device: cpu
  peak_flops: 1.0e12
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dist")
    data = root / "data"
    data.mkdir()
    rng = random.Random(0)
    words = ["def", "return", "class", "import", "for", "in", "if", "else", "while", "x", "y", "self", "print"]
    for i in range(20):
        lines = (" ".join(rng.choice(words) for _ in range(8)) for _ in range(60))
        (data / f"f{i:02d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "run.yaml").write_text(CONFIG.replace("DATA", str(data)), encoding="utf-8")
    return root


def codex_train(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEX_HOME": str(workspace / "home"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "codex_core", "train", "-c", str(workspace / "run.yaml"),
               f"run.runs_dir={workspace / 'runs'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def trained(workspace: Path, *args: str) -> Path:
    result = codex_train(workspace, *args)
    assert result.returncode == 0, result.stderr
    name = next(a.split("=", 1)[1] for a in args if a.startswith("run.name="))
    return workspace / "runs" / name


def curve(run: Path) -> dict[tuple[int, str], float]:
    """``(step, metric) -> value`` of train/loss and val/loss; a step logged twice fails."""
    out: dict[tuple[int, str], float] = {}
    for line in (run / "metrics.ndjson").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for key in ("train/loss", "val/loss"):
            if key in row["metrics"]:
                assert (row["step"], key) not in out, f"step {row['step']} {key} logged twice"
                out[(row["step"], key)] = row["metrics"][key]
    return out


def max_difference(a: dict[Any, float], b: dict[Any, float]) -> float:
    assert sorted(a) == sorted(b)
    return max(abs(a[k] - b[k]) for k in a)


def weights(checkpoint: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(checkpoint / "model.safetensors"))


@pytest.fixture(scope="module")
def one_process(workspace: Path) -> Path:
    return trained(workspace, "run.name=one")


def test_one_process_is_world_size_one() -> None:
    dist = Dist()
    assert not dist.enabled and dist.is_main
    assert dist.all_reduce_sum([1.5, 2.0]) == [1.5, 2.0]
    assert dist.main_first(lambda: 42) == 42
    assert issubclass(PeerError, Exception)


def test_the_launcher_prints_the_error_that_caused_the_failure(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from codex_models.training.launch import _worker_error

    def report(rank: int, line: str, code: int, user: bool, peer: bool = False) -> None:
        (tmp_path / f"rank-{rank}.json").write_text(
            json.dumps({"rank": rank, "line": line, "code": code, "user": user, "peer": peer}), encoding="utf-8")

    failures = {0: SimpleNamespace(local_rank=0, exitcode=1, timestamp=1.0)}
    assert _worker_error(tmp_path, failures) == ("internal error: training process 0 exited with status 1", 1)
    # Rank 0 lost its peer mid-collective; rank 1's own error is what the user needs to see.
    report(0, "internal error: RuntimeError: Connection closed by peer", 1, user=False)
    report(1, "error: no such file", 2, user=True)
    assert _worker_error(tmp_path, failures) == ("error: no such file", 2)
    # Rank 0's error, passed on to rank 1 by main_first, is printed as rank 0 said it.
    report(0, "error: bad batch", 2, user=True)
    report(1, "error: rank 0 failed: bad batch", 2, user=True, peer=True)
    assert _worker_error(tmp_path, failures) == ("error: bad batch", 2)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_match_one_and_resume(workspace: Path, one_process: Path, strategy: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    run = trained(workspace, f"run.name={strategy}", f"trainer.distributed={strategy}", "--nproc", "2")
    reference, uninterrupted = curve(one_process), curve(run)
    assert [k for k in sorted(uninterrupted) if k[1] == "train/loss"] == [(s, "train/loss") for s in
                                                                         range(1, STEPS + 1)]
    assert (STEPS, "val/loss") in uninterrupted
    difference = max_difference(reference, uninterrupted)
    print(f"{strategy}: max |loss(2 processes) - loss(1 process)| = {difference:.3g}")
    assert difference <= TOLERANCE

    # Rank 0 wrote the model directory; transformers loads it, with the one-process shapes.
    last = run / "checkpoints" / f"step-{STEPS:08d}"
    model = AutoModelForCausalLM.from_pretrained(last)
    one = weights(one_process / "checkpoints" / f"step-{STEPS:08d}")
    mine = weights(last)
    assert {k: v.shape for k, v in mine.items()} == {k: v.shape for k, v in one.items()}
    assert max(float((mine[k] - one[k]).abs().max()) for k in one) < 1e-4
    assert sum(p.numel() for p in model.parameters()) > 0

    # Killed after the step-4 checkpoint: the step-8 one never existed. --resume auto finishes
    # the run with the same curve and weights.
    saved = {k: v.clone() for k, v in mine.items()}
    shutil.rmtree(last)
    resumed = trained(workspace, f"run.name={strategy}", f"trainer.distributed={strategy}", "--nproc", "2",
                      "--resume", "auto")
    difference = max_difference(uninterrupted, curve(resumed))
    print(f"{strategy}: max |loss(resumed) - loss(uninterrupted)| = {difference:.3g}")
    assert difference <= TOLERANCE
    again = weights(last)
    assert max(float((again[k] - saved[k]).abs().max()) for k in saved) < 1e-6
    assert all(torch.isfinite(v).all() for v in again.values())

    # The optimizer state of a 2-process run cannot be split over 1 process: one line, status 2.
    if strategy == "ddp":
        other = codex_train(workspace, f"run.name={strategy}", "--resume", "auto", "trainer.max_steps=12")
        assert other.returncode == 2
        assert "world_size 2, this run has 1" in other.stderr


@pytest.mark.slow
def test_resuming_with_another_world_size_fails_on_every_rank(workspace: Path, one_process: Path) -> None:
    result = codex_train(workspace, "run.name=one", "--nproc", "2", "--resume", "auto", "trainer.max_steps=12")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: checkpoint") and "world_size 1, this run has 2" in errors[0]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_an_error_on_rank_zero_stops_every_rank_and_prints_once(workspace: Path) -> None:
    # Rank 0 builds the data first and finds 6 windows cannot split into 2 ranks x 2; rank 1
    # is told instead of waiting for it.
    result = codex_train(workspace, "run.name=bad", "trainer.global_batch_size=6", "--nproc", "2")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors == ["error: global_batch (6) must be a multiple of micro_batch x world_size (2 x 2)"], \
        result.stderr
    assert "Traceback" not in result.stderr


END_PROCESS = """
import atexit, logging, sys
from codex_models.training.launch import end_process
atexit.register(lambda: print("finalized"))
log = logging.getLogger("codex")
log.addHandler(logging.FileHandler(sys.argv[1], encoding="utf-8"))
log.warning("written to the log")
print("buffered", end="")
print("to stderr", end="", file=sys.stderr)
end_process(3)
"""


def test_end_process_flushes_output_and_skips_interpreter_finalization(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    result = subprocess.run([sys.executable, "-c", END_PROCESS, str(log)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 3
    assert result.stdout == "buffered"  # flushed, and the atexit handler never ran
    assert result.stderr == "to stderr"
    assert log.read_text(encoding="utf-8") == "written to the log\n"


# Loaded by every Python process started with this folder on PYTHONPATH: records that the
# process started and, from an atexit handler, that the interpreter was finalized.
SITECUSTOMIZE = """
import atexit, os
from pathlib import Path
_who = "rank-" + os.environ["RANK"] if "RANK" in os.environ else "launcher"
_marks = Path(os.environ["CODEX_TEST_MARKS"])
(_marks / ("started-" + _who)).touch()
atexit.register(lambda: (_marks / ("finalized-" + _who)).touch())
"""


@pytest.mark.slow
def test_training_processes_exit_without_finalizing_the_interpreter(workspace: Path, tmp_path: Path) -> None:
    # Gloo's threads may still release the last collective's work when a process ends; during
    # interpreter finalization that aborts the process (status -6) after a successful run.
    # The workers therefore end without finalization; the launcher finalizes as usual.
    site, marks = tmp_path / "site", tmp_path / "marks"
    site.mkdir()
    marks.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = {**os.environ, "CODEX_HOME": str(workspace / "home"), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "CODEX_TEST_MARKS": str(marks)}
    command = [sys.executable, "-m", "codex_core", "train", "-c", str(workspace / "run.yaml"),
               f"run.runs_dir={workspace / 'runs'}", "run.name=exits", "trainer.distributed=fsdp",
               "trainer.max_steps=2", "--nproc", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in marks.iterdir()) == [
        "finalized-launcher", "started-launcher", "started-rank-0", "started-rank-1"]
    manifest = json.loads((workspace / "runs" / "exits" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "completed"


@pytest.mark.slow
def test_sigterm_stops_every_process_after_a_checkpoint(workspace: Path) -> None:
    env = {**os.environ, "CODEX_HOME": str(workspace / "home"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "codex_core", "train", "-c", str(workspace / "run.yaml"),
               f"run.runs_dir={workspace / 'runs'}", "run.name=stopped", "trainer.distributed=fsdp",
               "trainer.max_steps=500", "trainer.checkpoint_every=1000", "--nproc", "2"]
    # A background test runner leaves SIGINT ignored in children: give it its default back.
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    run = workspace / "runs" / "stopped"
    deadline = time.monotonic() + 240
    while not ((run / "metrics.ndjson").is_file() and len(curve(run)) >= 3):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
        time.sleep(0.05)

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 128 + signal.SIGTERM, stderr
    steps = sorted({step for step, key in curve(run) if key == "train/loss"})
    assert 3 <= steps[-1] < 500
    assert [p.name for p in (run / "checkpoints").iterdir()] == [f"step-{steps[-1]:08d}"]
    assert json.loads((run / "manifest.json").read_text(encoding="utf-8"))["status"] == "stopped"
    assert "SIGTERM: finishing this step and writing a checkpoint" in stderr
    assert "death signal" not in stderr and "Traceback" not in stderr  # torchrun's agent says nothing itself
