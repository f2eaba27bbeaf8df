"""Training on several machines: ``codex train --nnodes 2 --node-rank R --rdzv-endpoint
HOST:PORT`` (torch's static rendezvous, node 0 hosts it), tried with two "nodes" on this
machine: one process each, meeting on 127.0.0.1, sharing one runs folder.

The two nodes give the loss curve of one process with the same global batch (2 nodes x 8
windows against 1 process x 2 micro batches of 8), a node started with plain ``torchrun -m
codex_models.training`` joins one started with ``codex train``, and when one node is lost
(SIGKILL of its launcher and its training process) the other stops within
``trainer.dist_timeout`` with one line, and both continue with ``--resume auto`` to the
uninterrupted run's losses and weights.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fault_jobs import Job, final_checkpoint, losses, same_weights, wait_for

STEPS = 24
TIMEOUT = 20  # trainer.dist_timeout of these runs, seconds
TOLERANCE = 1e-5  # as packages/codex-models/tests/test_distributed.py establishes for DDP against one process


def _edit(tree: dict[str, Any]) -> None:
    tree["model"]["params"]["dropout"] = 0.0  # dropout draws differ between 1 and 2 processes
    tree["trainer"].update({"micro_batch_size": 8, "dist_timeout": TIMEOUT})


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    return Job.create(tmp_path_factory.mktemp("multinode"), steps=STEPS, edit=_edit)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_node(job: Job, name: str, rank: int, port: int, *args: str, torchrun: bool = False) -> subprocess.Popen[str]:
    """Node ``rank`` of 2: ``codex train --nnodes 2 ...`` (or plain torchrun) in its own session,
    so the test can kill the node's whole process tree."""
    if torchrun:
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node-rank", str(rank),
                   "--rdzv-endpoint", f"127.0.0.1:{port}", "--nproc-per-node", "1", "-m", "codex_models.training"]
    else:
        command = [sys.executable, "-m", "codex_core", "train", "--nnodes", "2", "--node-rank", str(rank),
                   "--rdzv-endpoint", f"127.0.0.1:{port}"]
    command += ["-c", str(job.config), f"run.name={name}", *args]
    return subprocess.Popen(command, env=job.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def run_nodes(job: Job, name: str, *args: str, torchrun_node: int | None = None) -> list[tuple[int, str]]:
    port = free_port()
    nodes = [start_node(job, name, rank, port, *args, torchrun=rank == torchrun_node) for rank in (0, 1)]
    results = []
    for node in nodes:
        _, err = node.communicate(timeout=300)
        results.append((node.returncode, err))
    return results


def kill_node(node: subprocess.Popen[str]) -> None:
    """SIGKILL a node's launcher and every process under it (torchrun's agent starts its
    training processes in sessions of their own), as when the machine is lost."""
    import psutil

    tree = [psutil.Process(node.pid), *psutil.Process(node.pid).children(recursive=True)]
    for process in tree:
        process.send_signal(signal.SIGKILL)
    psutil.wait_procs(tree, timeout=30)


@pytest.fixture(scope="module")
def two_nodes(job: Job) -> Path:
    """The uninterrupted 2-node run; node 1 started with plain torchrun."""
    results = run_nodes(job, "two", torchrun_node=1)
    for code, err in results:
        assert code == 0, err
    return job.runs / "two"


@pytest.mark.slow
def test_two_nodes_train_like_one_process_with_the_same_global_batch(job: Job, two_nodes: Path) -> None:
    code, err = job.train("one", "trainer.grad_accum_steps=2")
    assert code == 0, err
    reference, mine = losses(job.runs / "one"), losses(two_nodes)
    assert [step for step, _ in mine] == list(range(1, STEPS + 1))
    difference = max(abs(a - b) for (_, a), (_, b) in zip(reference, mine, strict=True))
    print(f"max |loss(2 nodes) - loss(1 process)| = {difference:.3g}")
    assert difference <= TOLERANCE
    manifest = json.loads((two_nodes / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "completed"
    assert manifest["distributed"] == {"timeout_s": TIMEOUT, "nnodes": 2, "world_size": 2}


@pytest.mark.slow
def test_a_lost_node_stops_the_other_with_one_line_and_the_run_resumes(job: Job, two_nodes: Path) -> None:
    port = free_port()
    nodes = [start_node(job, "lost", rank, port) for rank in (0, 1)]
    checkpoints = job.runs / "lost" / "checkpoints"
    wait_for(lambda: checkpoints.is_dir() and any(p.name.startswith("step-") for p in checkpoints.iterdir()),
             nodes[0])
    kill_node(nodes[1])
    killed = time.monotonic()
    _, err = nodes[0].communicate(timeout=10 * TIMEOUT)
    waited = time.monotonic() - killed

    assert nodes[0].returncode == 2, err
    assert waited < 3 * TIMEOUT  # a generous bound: the dead peer's closed connection is seen at once
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, err
    assert errors[0].startswith("error: lost contact with another process of the run at step ")
    last = final_checkpoint(job.runs / "lost").name
    assert f"the last checkpoint is {last}" in errors[0] and "--resume auto" in errors[0]
    assert int(last.split("-")[1]) < STEPS

    for code, err in run_nodes(job, "lost", "--resume", "auto"):
        assert code == 0, err
    assert losses(job.runs / "lost") == losses(two_nodes)  # bit for bit
    assert same_weights(final_checkpoint(job.runs / "lost"), final_checkpoint(two_nodes))


@pytest.mark.parametrize(("args", "message"), [
    (["--nnodes", "2"], "error: --nnodes 2 needs --rdzv-endpoint HOST:PORT"),
    (["--nnodes", "2", "--node-rank", "2", "--rdzv-endpoint", "127.0.0.1:29500"],
     "error: --node-rank 2 is outside 0..1 (--nnodes 2)"),
    (["--nnodes", "2", "--rdzv-endpoint", "127.0.0.1"], "error: --rdzv-endpoint '127.0.0.1' is not HOST:PORT"),
    (["--nnodes", "2", "--rdzv-endpoint", "host:99999"], "error: --rdzv-endpoint 'host:99999' is not HOST:PORT"),
    (["--nnodes", "2", "--rdzv-endpoint", ":29500"], "error: --rdzv-endpoint ':29500' is not HOST:PORT"),
    (["--rdzv-endpoint", "127.0.0.1:29500"], "error: --rdzv-endpoint is for a run on several nodes"),
    (["--nnodes", "2", "--rdzv-endpoint", "127.0.0.1:29500", "--sweep", "trainer.lr=1e-3,2e-3"],
     "error: --sweep cannot be combined with --nnodes"),
])
def test_multi_node_flags_that_cannot_work_fail_with_one_line(args: list[str], message: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from codex_core.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dry-run", *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith(message) and len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_a_hung_node_stops_the_other_after_dist_timeout(job: Job) -> None:
    port = free_port()
    nodes = [start_node(job, "hung", rank, port, "trainer.dist_timeout=3") for rank in (0, 1)]
    checkpoints = job.runs / "hung" / "checkpoints"
    wait_for(lambda: checkpoints.is_dir() and any(p.name.startswith("step-") for p in checkpoints.iterdir()),
             nodes[0])
    import psutil

    hung = [psutil.Process(nodes[1].pid), *psutil.Process(nodes[1].pid).children(recursive=True)]
    for process in hung:
        process.suspend()  # SIGSTOP: alive, its connections open, silent
    try:
        _, err = nodes[0].communicate(timeout=120)  # gloo's default would be 30 minutes
    finally:
        kill_node(nodes[1])
    assert nodes[0].returncode == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error: lost contact with another process of the run"), err
    assert "timed out" in errors[0].lower() and "--resume auto" in errors[0]


@pytest.mark.slow
def test_sigterm_on_one_node_stops_every_node_after_a_checkpoint(job: Job) -> None:
    port = free_port()
    nodes = [start_node(job, "term", rank, port, "trainer.max_steps=500") for rank in (0, 1)]
    checkpoints = job.runs / "term" / "checkpoints"
    wait_for(lambda: checkpoints.is_dir() and any(p.name.startswith("step-") for p in checkpoints.iterdir()),
             nodes[0])
    nodes[1].send_signal(signal.SIGTERM)  # its launcher: torchrun's agent passes it on
    results = [node.communicate(timeout=120) for node in nodes]  # not the agents' 300 s exit barrier

    assert [node.returncode for node in nodes] == [0, 128 + signal.SIGTERM], results
    assert all("Traceback" not in err for _, err in results)
    manifest = json.loads((job.runs / "term" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "stopped" and manifest["stop_reason"] == "another process of the run was stopped"
    assert final_checkpoint(job.runs / "term").name == f"step-{manifest['final_step']:08d}"
    assert manifest["final_step"] < 500


@pytest.mark.parametrize("rank", [0, 1])
def test_nodes_that_do_not_meet_fail_with_one_line_after_dist_timeout(rank: int,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from codex_core.errors import CodexError
    from codex_models.training.launch import launch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    endpoint = f"127.0.0.1:{free_port()}"  # node 0 waits there for a node 1 that never comes; node 1 finds no node 0
    with pytest.raises(CodexError) as error:
        launch(1, ["-c", "never-read.yaml"], nnodes=2, node_rank=rank, endpoint=endpoint, timeout=1)
    line = str(error.value)
    assert line.startswith(f"node {rank} of 2: the nodes did not meet at {endpoint} within trainer.dist_timeout (1 s)")
    assert "\n" not in line and "--rdzv-endpoint" in line


def test_the_launcher_names_a_killed_process_before_the_peer_that_lost_it(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from codex_models.training.launch import _worker_error

    lost = "error: lost contact with another process of the run at step 5 (Connection closed by peer); ..."
    (tmp_path / "rank-0.json").write_text(json.dumps({"rank": 0, "line": lost, "code": 2, "user": True,
                                                      "peer": True}), encoding="utf-8")
    failures = {1: SimpleNamespace(local_rank=1, exitcode=-9, timestamp=1.0),
                0: SimpleNamespace(local_rank=0, exitcode=2, timestamp=2.0)}
    assert _worker_error(tmp_path, failures) == (
        "error: training process 1 was killed by SIGKILL; lost contact with another process of the run at step 5 "
        "(Connection closed by peer); ...", 2)
    # On another node the failures are keyed by global rank, as the reports are.
    (tmp_path / "rank-0.json").unlink()
    (tmp_path / "rank-3.json").write_text(json.dumps({"rank": 3, "line": "internal error: boom", "code": 1,
                                                      "user": False, "peer": False}), encoding="utf-8")
    assert _worker_error(tmp_path, {3: SimpleNamespace(local_rank=1, exitcode=1, timestamp=1.0)}) == (
        "internal error: boom", 1)
