"""Concurrency: two ``codex train`` on one run directory, and two runs building one token cache
and one tokenizer cache at once.

* A second process on a run that another holds fails at once (exit 2) with one line naming
  the run and the holder, with ``--resume auto`` and without; the holder goes on undisturbed
  and ends as a run that was never contended.
* Two runs (other names, one ``CODEX_HOME``) needing the same tokenizer and token cache take
  turns: the tokenizer is trained once and the cache built once, the other waits and reuses
  them; both caches hash as ones built alone and both runs train the same.

The overlap is made certain, not left to timing: the holder of the run is paused (SIGSTOP)
while the second processes try it, and the test holds the cache locks while both runs start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fault_jobs import Job, final_checkpoint, losses, same_weights, tree_hashes, wait_for

from codex_core.fsutil import FileLock, sha256_file

pytestmark = pytest.mark.slow

STEPS = 6


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Job:
    """The job trained alone (run ``ref``): its tokenizer and token cache built with no one else."""
    job = Job.create(tmp_path_factory.mktemp("concurrency"), steps=STEPS)
    code, err = job.train("ref")
    assert code == 0, err
    return job


def run_files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*"))


def test_a_second_process_on_a_held_run_fails_at_once_and_the_holder_ends_undisturbed(reference: Job,
                                                                                      tmp_path: Path) -> None:
    job = Job(reference.root, reference.config, reference.tree,
              {**reference.env, "CODEX_RUNS_DIR": str(tmp_path / "runs")})
    run = job.runs / "x"
    holder = job.start("x")
    wait_for(lambda: FileLock(run / ".lock").holder().get("pid") == holder.pid, holder)
    os.kill(holder.pid, signal.SIGSTOP)  # holds the run's lock, paused, while the others try
    try:
        before = tree_hashes(run)
        second = [job.start("x", "--resume", "auto"), job.start("x")]
        results = [(p.wait(timeout=120), p.communicate()[1]) for p in second]
        after = tree_hashes(run)
    finally:
        os.kill(holder.pid, signal.SIGCONT)
    _, err = holder.communicate(timeout=300)

    assert holder.returncode == 0, err
    for code, stderr in results:
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert code == 2, stderr
        assert lines[0].startswith("error: ") and str(run) in lines[0] and f"pid {holder.pid}" in lines[0], stderr
        assert "Traceback" not in stderr and len(lines) <= 2, stderr  # the error and its hint
    assert after == before  # the others changed nothing in the run while its holder was paused
    assert sorted(p.name for p in job.runs.iterdir()) == ["x"] and run_files(run) == run_files(reference.runs / "ref")
    assert losses(run) == losses(reference.runs / "ref")
    assert same_weights(final_checkpoint(run), final_checkpoint(reference.runs / "ref"))


def logged(run: Path, *parts: str) -> bool:
    """Whether a line of the run's train.log holds every one of ``parts``."""
    path = run / "train.log"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return any(all(part in line for part in parts) for line in lines)


def cache_content(cache: Path) -> dict[str, Any]:
    """A token cache's shard hashes and its manifest without provenance (``created_at``) and seal."""
    manifest = json.loads((cache / "manifest.json").read_text(encoding="utf-8"))
    return {"shards": tree_hashes(cache, skip=("manifest.json",)),
            "manifest": {k: v for k, v in manifest.items() if k not in ("created_at", "manifest_sha256")}}


def test_two_runs_needing_one_tokenizer_and_one_token_cache_take_turns(reference: Job, tmp_path: Path) -> None:
    from codex_data.token_cache import load_cache

    # The same names as the reference's (they depend on the inputs, not on the cache folder).
    (tokenizer,) = (reference.home / "tokenizers").glob("bpe-*.json")
    (cache,) = (reference.home / "token-caches").glob("text-*")
    job = Job(reference.root, reference.config, reference.tree,
              {**reference.env, "CODEX_HOME": str(tmp_path / "home"), "CODEX_RUNS_DIR": str(tmp_path / "runs")})
    mine, runs = f"waiting for pid {os.getpid()} ", [job.runs / "a", job.runs / "b"]
    tokenizer_lock = FileLock(job.home / "tokenizers" / f".{tokenizer.name}.lock").acquire()
    cache_lock = FileLock(job.home / "token-caches" / f".{cache.name}.lock").acquire()
    processes: list[subprocess.Popen[str]] = []
    try:
        processes = [job.start("a"), job.start("b")]
        for run, process in zip(runs, processes, strict=True):
            wait_for(lambda run=run: logged(run, f"tokenizer cache {job.home / 'tokenizers'}", mine), process)
        tokenizer_lock.release()  # one trains it, the other waits for that one, then loads it
        for run, process in zip(runs, processes, strict=True):
            wait_for(lambda run=run: logged(run, f"token cache {job.home / 'token-caches'}", mine), process)
        cache_lock.release()  # one builds it, the other waits for that one, then reuses it
        results = [(p.wait(timeout=300), p.communicate()[1]) for p in processes]
    finally:
        tokenizer_lock.release()
        cache_lock.release()
        for process in processes:
            if process.poll() is None:
                process.kill()
    logs = [(run / "train.log").read_text(encoding="utf-8") for run in runs]

    assert [code for code, _ in results] == [0, 0], results
    assert sum(f"tokenizer cache {job.home / 'tokenizers' / tokenizer.name}: training" in log for log in logs) == 1
    assert sum(": building (" in log for log in logs) == 1 and sum(": reused" in log for log in logs) == 1
    load_cache(job.home / "token-caches" / cache.name, verify=True)
    assert cache_content(job.home / "token-caches" / cache.name) == cache_content(cache)
    assert sha256_file(job.home / "tokenizers" / tokenizer.name) == sha256_file(tokenizer)
    assert losses(runs[0]) == losses(runs[1]) == losses(reference.runs / "ref")
    assert same_weights(final_checkpoint(runs[0]), final_checkpoint(runs[1]))
