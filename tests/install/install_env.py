"""Real installs: helpers for the tests of tests/install (their fixtures are in its conftest.py).

The fixtures there:

Session fixtures, so that the whole test run builds the wheels once and makes one torch-free
and one full environment (each test adds what it needs to them):

* ``dist_dir``: ``python -m build`` output (an sdist and a wheel) of the five packages and of
  the example plugin, plus stand-in wheels named ``codex-core`` at the versions the unrelated
  project of that name has released (and a later one), which must never be chosen;
* ``core_venv``: ``pip install codex-core`` from ``dist_dir``, no torch;
* ``full_venv``: ``pip install codex-core codex-models`` from ``dist_dir``.

Every pip command runs with ``--find-links dist_dir`` and the repository's constraints (so torch
is the pinned CPU build), with the index configured as usual for the other dependencies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["codex-core", "codex-tokenizers", "codex-data", "codex-models", "codex-telemetry"]
EXAMPLE = ROOT / "examples" / "codex-word-f1"
STAND_IN_VERSIONS = ["0.1.0", "0.1.1", "0.2.0", "9.0.0"]  # the unrelated project's, and a later one
TIMEOUT = 900


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for commands in a test venv: nothing of the test process's own
    packages leaks in (PYTHONPATH, plugin filters, coverage's subprocess hook)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CODEX_", "COV_CORE", "COVERAGE_")) and k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.update(PIP_CONSTRAINT=str(ROOT / "constraints.txt"), PIP_DISABLE_PIP_VERSION_CHECK="1",
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra or {})
    return env


@dataclass
class Venv:
    """A fresh virtual environment and the ways tests use it."""

    path: Path
    dist_dir: Path
    home: Path  # CODEX_HOME for commands run in it

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def run(self, *argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run a command; a bare name (``codex``, ``pytest``) is this venv's script of that name."""
        first = str(argv[0])
        if os.sep not in first and (self.path / "bin" / first).exists():
            first = str(self.path / "bin" / first)
        merged = clean_env({"CODEX_HOME": str(self.home), "PATH": f"{self.path / 'bin'}{os.pathsep}{os.environ['PATH']}",
                            **(env or {})})
        return subprocess.run([first, *map(str, argv[1:])], capture_output=True, text=True, cwd=cwd, env=merged,
                              timeout=timeout)

    def codex(self, *args: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
        return self.run("codex", *args, **kwargs)

    def pip_install(self, *args: str | Path, report: Path | None = None) -> dict:
        """``pip install --find-links DIST ARGS``; returns pip's installation report."""
        report = report or self.path / "last-install-report.json"
        done = self.run(self.python, "-m", "pip", "install", "--find-links", self.dist_dir, "--report", report, *args)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        return json.loads(report.read_text())

    def imports(self, code: str) -> subprocess.CompletedProcess[str]:
        return self.run(self.python, "-c", code)


def installed_from(report: dict) -> dict[str, tuple[str, str]]:
    """``{name: (version, url)}`` of what a ``pip install --report`` installed."""
    return {item["metadata"]["name"]: (item["metadata"]["version"], item["download_info"]["url"])
            for item in report["install"]}


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(folder: Path, name: str, version: str, *, requires: tuple[str, ...] = (),
                plugin: str | None = None, init: str = "", summary: str = "") -> Path:
    """A minimal pure-Python wheel of one package (``name`` with ``_``), valid for pip: METADATA
    with ``requires``, a ``codex`` entry point named ``plugin`` (if given) to that package, and
    a RECORD with hashes."""
    stem = name.replace("-", "_")
    info = f"{stem}-{version}.dist-info"
    meta = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"]
    meta += [f"Summary: {summary}\n"] if summary else []
    meta += [f"Requires-Dist: {r}\n" for r in requires]
    files = {
        f"{stem}/__init__.py": init.encode(),
        f"{info}/METADATA": "".join(meta).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: codex-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if plugin is not None:
        files[f"{info}/entry_points.txt"] = f"[codex]\n{plugin} = {stem}\n".encode()
    path = folder / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for member, data in files.items():
            whl.writestr(member, data)
        record = [_record_line(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
        whl.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def write_stand_in_wheel(folder: Path, version: str) -> Path:
    """A wheel named ``codex-core`` that is not ours: installing it would be the dependency
    confusion the version scheme exists to prevent (its module says so when imported)."""
    return write_wheel(folder, "codex-core", version, init=f'STAND_IN = True\n__version__ = "{version}"\n',
                       summary="stand-in for the unrelated project of this name")


def make_venv(root: Path, dist_dir: Path) -> Venv:
    venv.EnvBuilder(with_pip=True).create(root / "venv")
    (root / "home").mkdir()
    return Venv(root / "venv", dist_dir, root / "home")
