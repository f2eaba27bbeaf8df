"""Where a run writes fails: a full disk (a 2 MiB tmpfs), a file size limit (RLIMIT_FSIZE), a
read-only filesystem (a read-only bind mount) and folders this user may not write (an
unprivileged uid: root ignores file modes).

Each failure is one ``error:`` line naming the file and why, exit status 2, no traceback, and
nothing left behind that looks complete but is not: the checkpoints written before verify,
no temporary stays, every metrics row is whole. Mounting needs root; where it is refused the
test is skipped with the reason.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from fault_jobs import Job, tree_hashes, wait_for

from codex_core.checkpoints import read_checkpoint

pytestmark = pytest.mark.slow

NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
WITHOUT_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]  # root, bound by file modes


@pytest.fixture(scope="module")
def world() -> Iterator[Path]:
    """A folder every user can enter (pytest's own temporary folders are root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="codex-disk-faults-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root)


@pytest.fixture(scope="module")
def job(world: Path) -> Job:
    """A 12-step job; its run ``base`` stopped at step 6 with checkpoints at steps 3 and 6
    (about 1.5 MB each), and the tokenizer and token caches built."""
    job = Job.create(world / "job", steps=12)
    code, err = job.train("base", "trainer.max_steps=6")
    assert code == 0, err
    return job


@pytest.fixture
def mount() -> Iterator[Callable[..., None]]:
    """``mount(*options, target)``: mount, skipping the test where that is refused; every
    mount made is unmounted at the end, last first."""
    made: list[Path] = []

    def do(*args: str) -> None:
        target = Path(args[-1])
        if os.geteuid() != 0:
            pytest.skip("mounting a filesystem needs root")
        done = subprocess.run(["mount", *args], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"mount {' '.join(args[:-1])} is refused here: {done.stderr.strip()}")
        if target not in made:
            made.append(target)

    yield do
    for target in reversed(made):
        subprocess.run(["umount", str(target)], check=True)


def copy_run(job: Job, name: str, root: Path | None = None) -> Path:
    """A copy of the run ``base`` as ``name`` (under ``root``, default the job's runs root)."""
    target = (root or job.runs) / name
    shutil.copytree(job.runs / "base", target)
    return target


def error_line(err: str) -> str:
    """The one ``error:`` line of a failed run, checking that nothing else went wrong on stderr."""
    assert "Traceback" not in err and "--- Logging error ---" not in err, err
    errors = [line for line in err.splitlines() if line.startswith(("error:", "internal error:"))]
    assert len(errors) == 1 and errors[0].startswith("error: "), err
    return errors[0]


def assert_nothing_half_written(run: Path, checkpoints: list[str]) -> None:
    """Only complete checkpoints (which verify), no temporaries, whole metrics rows, a
    readable manifest that says the run failed, a readable config."""
    leftovers = [str(p.relative_to(run)) for p in run.rglob(".*") if p.name != ".lock"]
    assert leftovers == []
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == checkpoints
    for name in checkpoints:
        read_checkpoint(run / "checkpoints" / name, verify=True)
    text = (run / "metrics.ndjson").read_text(encoding="utf-8")
    assert text.endswith("\n") and all(json.loads(line)["v"] == 1 for line in text.splitlines())
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" and manifest["checkpoints"] == checkpoints
    assert isinstance(yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")), dict)


# -- no space, no more file size ------------------------------------------------------------
def test_a_full_disk_stops_the_run_with_one_line_and_the_last_checkpoint_intact(
    job: Job, mount: Callable[..., None]
) -> None:
    run = job.runs / "full"
    run.mkdir()
    mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(run))  # the checkpoint of step 3 fits, not a second one

    code, err = job.train("full")

    line = error_line(err)
    assert code == 2
    assert f"cannot write {run}/checkpoints/step-00000006" in line and "no space left on device" in line
    assert_nothing_half_written(run, ["step-00000003"])


def fill(path: Path) -> None:
    """Write ``path`` until its filesystem has no space left."""
    with open(path, "wb") as ballast:
        try:
            while True:
                ballast.write(bytes(1 << 16))
                ballast.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_a_disk_that_stays_full_still_ends_with_the_one_line_that_says_why(
    job: Job, mount: Callable[..., None]
) -> None:
    run = job.runs / "filled"
    run.mkdir()
    mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(run))
    process = job.start("filled", "trainer.max_steps=30")
    wait_for(lambda: (run / "checkpoints" / "step-00000003").is_dir(), process)
    fill(run / "ballast")  # another program takes the rest of the disk: the run's last writes fail too

    _, err = process.communicate(timeout=300)

    line = error_line(err)
    assert process.returncode == 2
    assert f"cannot write {run}/" in line and "no space left on device" in line  # a checkpoint, or a metrics row
    kept = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert kept[0] == "step-00000003" and [read_checkpoint(run / "checkpoints" / k, verify=True) for k in kept]
    assert [str(p.relative_to(run)) for p in run.rglob(".*") if p.name != ".lock"] == []
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" or (  # the manifest as it was, and a warning that says so
        manifest["status"] == "running" and f"could not record status 'failed' in {run}/manifest.json" in err)


@pytest.mark.parametrize(("size", "cache", "entries"), [("8k", "tokenizers", "*.json"),  # no room for its ~4 kB
                                                    ("20k", "token-caches", "text-*")])  # room for the tokenizer only
def test_a_full_cache_disk_names_the_cache_and_leaves_no_partial_entry(
    job: Job, world: Path, mount: Callable[..., None], size: str, cache: str, entries: str
) -> None:
    home = world / f"home-{size}"
    home.mkdir()
    mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(home))

    code, err = job.with_home(home).train(f"cache-{size}")

    line = error_line(err)
    assert code == 2
    assert line.startswith(f"error: cannot write {home}/{cache}/") and "no space left on device" in line
    assert [p.name for p in home.rglob(".*") if not p.name.endswith(".lock")] == []  # no temporaries
    assert list((home / cache).glob(entries)) == []  # and no entry under its final name


def test_the_run_log_on_a_full_disk_warns_once_instead_of_a_traceback_per_record(
    world: Path, mount: Callable[..., None], capfd: pytest.CaptureFixture[str]
) -> None:
    from codex_models.training.run import _RunLog

    folder = world / "full-log"
    folder.mkdir()
    mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder))
    fill(folder / "ballast")
    handler = _RunLog(folder / "train.log", encoding="utf-8")
    logger = logging.getLogger("codex.faults.full-log")
    logger.addHandler(handler)
    logger.propagate = False  # only this handler: what earlier tests left on the parents is not under test
    try:
        for n in range(3):
            logger.warning("record %d", n)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()

    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1, lines  # not "--- Logging error ---" and a traceback for each record
    assert lines[0].startswith(f"codex: WARNING: cannot write {folder}/train.log: no space left on device; ")


def test_a_file_size_limit_is_reported_like_a_full_disk(job: Job) -> None:
    run = copy_run(job, "fsize")
    limit = 600_000  # model.safetensors (~500 kB) fits, trainer_state.pt (~1 MB) does not

    def limited() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([sys.executable, "-m", "codex_core", "train", "-c", str(job.config), "run.name=fsize",
                           "--resume", "auto"], env=job.env, capture_output=True, text=True, timeout=300,
                          preexec_fn=limited)

    line = error_line(done.stderr)
    assert done.returncode == 2
    assert f"cannot write {run}/checkpoints/step-00000009/trainer_state.pt: file size limit exceeded" in line
    assert f"it is {limit} bytes now" in line
    assert_nothing_half_written(run, ["step-00000003", "step-00000006"])


# -- read-only ------------------------------------------------------------------------------
def test_a_read_only_runs_root_fails_at_once_and_changes_nothing(
    job: Job, world: Path, mount: Callable[..., None]
) -> None:
    source, view = world / "ro-source", world / "ro-view"
    source.mkdir()
    view.mkdir()
    copy_run(job, "base", root=source)
    mount("--bind", str(source), str(view))
    mount("-o", "remount,bind,ro", str(view))
    before = tree_hashes(source)
    on_view = Job(job.root, job.config, job.tree, {**job.env, "CODEX_RUNS_DIR": str(view)})

    resumed, resumed_err = on_view.train("base", "--resume", "auto")
    fresh, fresh_err = on_view.train("fresh")

    assert (resumed, fresh) == (2, 2)
    assert error_line(resumed_err).startswith(f"error: cannot write {view}/base/.lock: read-only file system")
    assert error_line(fresh_err).startswith(f"error: cannot write {view}/fresh: read-only file system")
    assert tree_hashes(source) == before


# -- permissions ----------------------------------------------------------------------------
@dataclass
class Refused:
    """How to run a program that file modes refuse (root is never refused by them): ``prefix``
    runs it; folders owned by ``other`` (mode 0755) it may not write, its ``own`` uid's it may."""

    prefix: list[str]
    own: int
    other: int


@pytest.fixture(scope="module")
def refused(world: Path) -> Refused:
    """As uid 65534 where it can run this Python; else as root without the capabilities that
    override file modes (so folders of uid 65534 refuse it). Both give real EACCES errors."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running a program that file modes refuse needs root and setpriv")
    probe = subprocess.run([*AS_NOBODY, sys.executable, "-c", "import codex_core.cli, codex_models"],
                           capture_output=True, text=True)
    if probe.returncode == 0:
        return Refused(AS_NOBODY, own=NOBODY, other=0)
    theirs = world / "probe-theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    capless = subprocess.run([*WITHOUT_DAC, sys.executable, "-c", "import sys, codex_core.cli, codex_models; "
                              "open(sys.argv[1] + '/x', 'w')", str(theirs)], capture_output=True, text=True)
    if "PermissionError" not in capless.stderr:
        pytest.skip(f"uid {NOBODY} cannot run this Python ({sys.executable}: {probe.stderr.strip()[-200:]}) and "
                    f"root without CAP_DAC_OVERRIDE is not refused ({capless.stderr.strip()[-200:]})")
    return Refused(WITHOUT_DAC, own=0, other=NOBODY)


def train_as(refused: Refused, job: Job, name: str, *args: str, **env: str) -> tuple[int, str]:
    done = subprocess.run([*refused.prefix, sys.executable, "-m", "codex_core", "train", "-c", str(job.config),
                           f"run.name={name}", *args], env={**job.env, **env}, capture_output=True, text=True,
                          timeout=300)
    return done.returncode, done.stderr


def test_folders_this_user_may_not_write_fail_with_one_line_naming_them(
    job: Job, world: Path, refused: Refused
) -> None:
    theirs = copy_run(job, "theirs")
    other_cache = world / "other-cache"  # an empty cache folder of the other user's
    other_cache.mkdir()
    own = world / "own"  # the user's home, and a runs root it may write
    own.mkdir()
    os.chown(own, refused.own, refused.own)
    for path in [job.root, *job.root.rglob("*"), other_cache]:  # the job: readable by all, the other's
        path.chmod(0o755 if path.is_dir() else 0o644)
        os.chown(path, refused.other, refused.other)
    before = tree_hashes(job.runs)

    new_run = train_as(refused, job, "new", HOME=str(own))
    resumed = train_as(refused, job, "theirs", "--resume", "auto", HOME=str(own))
    cache = train_as(refused, job, "cached", HOME=str(own), CODEX_RUNS_DIR=str(own / "runs"),
                     CODEX_HOME=str(other_cache))

    assert [code for code, _ in (new_run, resumed, cache)] == [2, 2, 2]
    assert error_line(new_run[1]).startswith(f"error: cannot write {job.runs}/new: permission denied")
    assert error_line(resumed[1]).startswith(f"error: cannot write {theirs}/.lock: permission denied")
    assert error_line(cache[1]).startswith(f"error: cannot write {other_cache}/")
    assert "permission denied" in error_line(cache[1])
    assert tree_hashes(job.runs) == before and list(other_cache.iterdir()) == []
