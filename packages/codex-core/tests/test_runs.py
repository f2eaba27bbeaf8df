"""Run directories: layout, lock, atomic writes, metrics.ndjson and RUN lookup."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import codex_core
from codex_core.errors import RunDirError, WriteError
from codex_core.fsutil import FileLock, atomic_write
from codex_core.runs import RunDir, list_runs, new_run_name, resolve_run


def test_create_lays_out_the_run_directory(tmp_path):
    run = RunDir.create(tmp_path, "r1", config_yaml="run: {}\n", manifest={"config_hash": "abc"})
    run.unlock()

    names = sorted(p.name for p in run.path.iterdir())

    assert names == [".lock", "artifacts", "checkpoints", "config.yaml", "manifest.json", "metrics.ndjson",
                     "train.log"]
    manifest = run.read_manifest()
    assert (manifest["name"], manifest["config_hash"], manifest["schema"]) == ("r1", "abc", 1)


def test_a_second_process_cannot_take_the_lock_and_is_told_the_holder_pid(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from codex_core.runs import RunDir
            RunDir.create({str(tmp_path)!r}, "busy")
            print("locked", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"

        with pytest.raises(RunDirError, match=rf"is in use by pid {holder.pid} on "):
            RunDir(tmp_path / "busy").lock()
    finally:
        holder.kill()
        holder.wait()


def test_a_waiting_lock_says_who_holds_it_and_gets_it_when_they_let_go(tmp_path):
    lock_path, release = tmp_path / ".cache.lock", tmp_path / "release"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import pathlib, time
            from codex_core.fsutil import FileLock
            with FileLock({str(lock_path)!r}):
                print("locked", flush=True)
                while not pathlib.Path({str(release)!r}).exists():
                    time.sleep(0.01)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    told: list[str] = []

    def wait(who: str) -> None:
        told.append(who)
        release.touch()  # the holder lets go only now that this process waits

    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with FileLock(lock_path, what="token cache", wait=wait):
            assert holder.wait(timeout=60) == 0  # it released the lock before this one was granted
            assert json.loads(lock_path.read_text())["pid"] == os.getpid()
    finally:
        holder.kill()
        holder.wait()
    assert len(told) == 1 and told[0].startswith(f"pid {holder.pid} on ")
    assert not FileLock(lock_path).is_locked()


def test_the_lock_is_released_when_the_holder_dies(tmp_path):
    subprocess.run([sys.executable, "-c",
                    f"from codex_core.runs import RunDir; RunDir.create({str(tmp_path)!r}, 'crashed'); "
                    "import os; os._exit(1)"], check=False)

    run = RunDir(tmp_path / "crashed").lock()

    assert run.path.exists()
    run.unlock()


def test_an_existing_run_name_is_refused(tmp_path):
    RunDir.create(tmp_path, "taken").unlock()

    with pytest.raises(RunDirError, match="already exists"):
        RunDir.create(tmp_path, "taken")


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    atomic_write(target, "old")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(WriteError, match=f"cannot write {re.escape(str(target))}: no space left on device"):
        atomic_write(target, "new")

    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_writer_killed_mid_write_leaves_a_whole_file(tmp_path):
    target = tmp_path / "big.txt"
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from codex_core.fsutil import atomic_write
        i = 0
        while True:
            atomic_write({str(target)!r}, ("ab"[i % 2]) * 2_000_000)
            i += 1
            if i == 2:
                print("writing", flush=True)
    """)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    time.sleep(0.2)

    writer.send_signal(signal.SIGKILL)
    writer.wait()

    content = target.read_text()
    assert len(content) == 2_000_000 and content in ("a" * 2_000_000, "b" * 2_000_000)


def test_metrics_rows_round_trip_and_a_torn_last_line_is_ignored(tmp_path):
    run = RunDir.create(tmp_path, "m")
    run.log_metrics(1, {"train/loss": 2.5, "lr": 1e-3}, when=100.0)
    run.log_metrics(2, {"train/loss": float("nan")}, when=101.0)
    with open(run.metrics_path, "a") as handle:
        handle.write('{"v": 1, "step": 3, "metr')

    rows = list(run.read_metrics())

    assert rows == [
        {"v": 1, "step": 1, "time": 100.0, "metrics": {"train/loss": 2.5, "lr": 1e-3}},
        {"v": 1, "step": 2, "time": 101.0, "metrics": {"train/loss": None}},
    ]


def test_truncate_metrics_drops_rows_after_the_resumed_step(tmp_path):
    run = RunDir.create(tmp_path, "m")
    for step in range(1, 6):
        run.log_metrics(step, {"train/loss": 1.0 / step})

    dropped = run.truncate_metrics(after_step=3)

    assert dropped == 2
    assert [r["step"] for r in run.read_metrics()] == [1, 2, 3]


def test_resolve_run_by_path_name_and_latest(tmp_path):
    first = RunDir.create(tmp_path, "first")
    first.unlock()
    second = RunDir.create(tmp_path, "second")
    second.unlock()

    assert resolve_run(str(first.path), tmp_path).path == first.path
    assert resolve_run("first", tmp_path).path == first.path
    assert resolve_run("latest", tmp_path).path == second.path
    assert [r.name for r in list_runs(tmp_path)] == ["first", "second"]


def test_an_unknown_run_suggests_a_close_name(tmp_path):
    RunDir.create(tmp_path, "baseline").unlock()

    with pytest.raises(RunDirError, match=r"no run 'baselin'.*did you mean 'baseline'"):
        resolve_run("baselin", tmp_path)


def test_latest_with_no_runs_is_a_clear_error(tmp_path):
    with pytest.raises(RunDirError, match="no runs under"):
        resolve_run("latest", tmp_path / "empty")


@pytest.mark.parametrize("name", ["latest", "../escape", "a/b", ""])
def test_invalid_run_names_are_refused(tmp_path, name):
    with pytest.raises(RunDirError, match="invalid run name"):
        RunDir.create(tmp_path, name)


def test_manifest_updates_merge_and_stay_valid_json(tmp_path):
    run = RunDir.create(tmp_path, "m")

    run.write_manifest({"status": "running"})
    run.write_manifest({"step": 10})

    manifest = json.loads(run.manifest_path.read_text())
    assert (manifest["status"], manifest["step"], manifest["name"]) == ("running", 10, "m")


def test_the_codex_home_fixture_points_runs_and_cache_into_the_test(codex_home):
    from codex_core.runs import cache_root, runs_root

    assert (runs_root(), cache_root()) == (codex_home / "runs", codex_home / "cache")


def test_atomic_write_gives_new_files_the_usual_mode_and_keeps_an_existing_mode(tmp_path):
    old_umask = os.umask(0o022)
    try:
        fresh = atomic_write(tmp_path / "fresh.txt", "x")
        private = tmp_path / "private.txt"
        private.write_text("secret")
        private.chmod(0o600)
        atomic_write(private, "still secret")
    finally:
        os.umask(old_umask)

    assert (fresh.stat().st_mode & 0o777, private.stat().st_mode & 0o777) == (0o644, 0o600)


def test_metrics_from_a_newer_schema_are_refused(tmp_path):
    run = RunDir.create(tmp_path, "m")
    run.metrics_path.write_text('{"v": 99, "step": 1, "time": 0, "metrics": {}}\n')

    with pytest.raises(RunDirError, match="schema v99, newer than this codex-core reads"):
        list(run.read_metrics())


def test_new_run_name_is_timestamped_and_numbered_when_taken(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda fmt, *args: "run-20250102-030405")
    (tmp_path / "run-20250102-030405").mkdir()
    (tmp_path / "run-20250102-030405-2").mkdir()

    assert new_run_name(str(tmp_path)) == "run-20250102-030405-3"
    assert new_run_name(tmp_path / "empty") == "run-20250102-030405"


def test_a_run_created_without_a_name_gets_a_new_run_name(tmp_path):
    run = RunDir.create(tmp_path)
    run.unlock()

    assert re.fullmatch(r"run-\d{8}-\d{6}", run.name)
    assert codex_core.new_run_name is new_run_name
