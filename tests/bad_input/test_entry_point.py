"""The real entry point (``python -m codex_core``), one subprocess per top-level command with
one representative bad input, and files this user may not read (as uid 65534, since root reads
everything): exit 2, one ``error:`` line naming the file (click's usage errors: ``Usage``, ``Try``
and ``Error:`` lines), no traceback, the runs root unchanged.

The representative inputs are chosen to fail before torch is imported where the command allows,
so that these subprocesses stay cheap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_jobs import tree_hashes

pytestmark = pytest.mark.slow

NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
WITHOUT_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]  # root, bound by file modes

REPRESENTATIVE = {  # top-level command -> (arguments, what the one line names)
    "cache": (["cache", "info"], "binary.bin"),  # with CODEX_HOME a file
    "completion": (["completion", "tcsh"], "tcsh"),
    "config": (["config", "validate", "-c", "{not_utf8}"], "not_utf8.yaml"),
    "data": (["data", "inspect", "{cache_garbage}"], "manifest.json"),
    "eval": (["eval", "compare", "{result_garbage}", "good"], "result.json"),
    "export": (["export", "--checkpoint", "{binary}", "-o", "{out}"], "binary.bin"),
    "generate": (["generate", "--run", "garbage-manifest", "hi"], "garbage-manifest"),
    "logs": (["logs", "summary", "bad-metrics"], "metrics.ndjson"),
    "models": (["models", "list", "extra"], "extra"),
    "plugins": (["plugins", "list", "--kind", "widget"], "widget"),
    "repro": (["repro", "show", "garbage-manifest"], "garbage-manifest"),
    "runs": (["runs", "show", "garbage-manifest"], "garbage-manifest"),
    "tokenizer": (["tokenizer", "inspect", "-t", "{tok_truncated}"], "tok_truncated.json"),
    "train": (["train", "-c", "{binary}"], "binary.bin"),
}


def codex(*args: str, env: dict[str, str], prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    for name in ("CODEX_DEBUG", "CODEX_STRICT_PLUGINS", "CODEX_FAILPOINT"):
        full.pop(name, None)
    return subprocess.run([*prefix, sys.executable, "-m", "codex_core", *args], capture_output=True, text=True,
                          env=full, timeout=120)


def check(done: subprocess.CompletedProcess[str], *words: str) -> None:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert 1 <= len(lines) <= 3 and any(line.lower().startswith("error: ") for line in lines), done.stderr
    for word in words:
        assert word in done.stderr, (word, done.stderr)


def test_the_table_names_every_top_level_command() -> None:
    import click

    from codex_core.cli import cli

    assert set(REPRESENTATIVE) == set(cli.list_commands(click.Context(cli)))


@pytest.mark.parametrize("command", sorted(REPRESENTATIVE))
def test_the_real_entry_point_fails_in_one_line(command: str, world, tmp_path: Path) -> None:
    args, word = REPRESENTATIVE[command]
    paths = {**world.paths, "out": str(tmp_path / "out")}
    env = {**world.env(), **({"CODEX_HOME": world.paths["binary"]} if command == "cache" else {})}
    before = tree_hashes(world.runs)

    done = codex(*(a.format(**paths) for a in args), env=env)

    check(done, word)
    assert tree_hashes(world.runs) == before


@pytest.fixture(scope="module")
def unreadable(world) -> Iterator[tuple[Path, list[str]]]:
    """A folder every user can enter, holding copies of good inputs that the reading process
    may not read, and the command prefix that runs it: as uid 65534 (the inputs root's) where
    that uid can run this Python, else as root without the capabilities that override file
    modes (the inputs then uid 65534's). Both give real EACCES errors."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("reading as another user needs root and setpriv")
    probe = subprocess.run([*AS_NOBODY, sys.executable, "-c", "import codex_core.cli, codex_tokenizers"],
                           capture_output=True, text=True)
    prefix, reader, owner = (AS_NOBODY, NOBODY, 0) if probe.returncode == 0 else (WITHOUT_DAC, 0, NOBODY)
    root = Path(tempfile.mkdtemp(prefix="codex-unreadable-"))
    try:
        if prefix is WITHOUT_DAC:
            theirs = root / "probe"
            theirs.write_text("x", encoding="utf-8")
            theirs.chmod(0o600)
            os.chown(theirs, NOBODY, NOBODY)
            capless = subprocess.run([*WITHOUT_DAC, sys.executable, "-c", "import sys, codex_core.cli; open(sys.argv[1])",
                                      str(theirs)], capture_output=True, text=True)
            theirs.unlink()
            if "PermissionError" not in capless.stderr:
                pytest.skip(f"uid {NOBODY} cannot run this Python ({probe.stderr.strip()[-200:]}) and root without "
                            f"CAP_DAC_OVERRIDE is not refused ({capless.stderr.strip()[-200:]})")
        shutil.copy(world.paths["good_yaml"], root / "run.yaml")
        shutil.copy(world.paths["tok"], root / "tokenizer.json")
        (root / "child.yaml").write_text("extends: run.yaml\n", encoding="utf-8")
        data = root / "data"
        shutil.copytree(world.paths["corpus"], data)
        runs = root / "runs"
        shutil.copytree(world.runs / "good", runs / "good")
        for path in [root, *root.rglob("*")]:  # readable by all, then the secrets their owner's alone
            path.chmod(0o755 if path.is_dir() else 0o644)
        own = root / "own"  # where the reader may write (the cache, outputs)
        own.mkdir()
        os.chown(own, reader, reader)
        for secret in (root / "run.yaml", root / "tokenizer.json", data / "f0.py", runs / "good" / "manifest.json",
                       runs / "good" / "metrics.ndjson"):
            secret.chmod(0o600)
            os.chown(secret, owner, owner)
        yield root, prefix
    finally:
        shutil.rmtree(root)


UNREADABLE = {  # case -> (arguments, what the one line names)
    "config": (["config", "validate", "-c", "{root}/run.yaml"], "run.yaml"),
    "config-extends": (["config", "show", "-c", "{root}/child.yaml"], "run.yaml"),
    "tokenizer": (["tokenizer", "encode", "-t", "{root}/tokenizer.json", "hi"], "tokenizer.json"),
    "tokenizer-dir": (["tokenizer", "inspect", "-t", "{root}"], "tokenizer.json"),
    "data": (["data", "prepare", "--dataset", "text", "--dataset-param", "paths=[{root}/data]", "--tokenizer", "char",
              "-o", "{root}/own/out"], "f0.py"),
    "runs": (["runs", "show", "good"], "manifest.json"),
    "logs": (["logs", "tail", "good"], "metrics.ndjson"),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_a_file_this_user_may_not_read_fails_in_one_line(case: str, unreadable: tuple[Path, list[str]]) -> None:
    unreadable, prefix = unreadable
    args, word = UNREADABLE[case]
    env = {"CODEX_HOME": str(unreadable / "own" / "home"), "CODEX_RUNS_DIR": str(unreadable / "runs"),
           "HOME": str(unreadable / "own")}
    before = tree_hashes(unreadable / "runs")

    done = codex(*(a.format(root=unreadable) for a in args), env=env, prefix=tuple(prefix))

    check(done, word)
    assert tree_hashes(unreadable / "runs") == before
