"""Session fixtures of the real-install tests (what they give: install_env.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from install_env import (
    EXAMPLE,
    PACKAGES,
    ROOT,
    STAND_IN_VERSIONS,
    TIMEOUT,
    Venv,
    clean_env,
    make_venv,
    write_stand_in_wheel,
)


@pytest.fixture(scope="session")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every distribution of this checkout, built by ``python -m build``, and the stand-ins."""
    out = tmp_path_factory.mktemp("dist")
    projects = [ROOT / "packages" / name for name in PACKAGES] + [EXAMPLE]
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "dist.py"), "build", str(out), *map(str, projects)],
                          capture_output=True, text=True, timeout=TIMEOUT, env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    for version in STAND_IN_VERSIONS:
        write_stand_in_wheel(out, version)
    return out


@pytest.fixture(scope="session")
def core_venv_fresh(tmp_path_factory: pytest.TempPathFactory, dist_dir: Path) -> Venv:
    """A fresh venv with nothing installed (the torch-free one)."""
    return make_venv(tmp_path_factory.mktemp("core-venv"), dist_dir)


@pytest.fixture(scope="session")
def core_install(core_venv_fresh: Venv) -> dict:
    """``pip install codex-core`` into the torch-free venv; pip's report of it."""
    return core_venv_fresh.pip_install("codex-core")


@pytest.fixture(scope="session")
def core_venv(core_venv_fresh: Venv, core_install: dict) -> Venv:
    return core_venv_fresh


@pytest.fixture(scope="session")
def full_install(tmp_path_factory: pytest.TempPathFactory, dist_dir: Path) -> tuple[Venv, dict, list[dict]]:
    """``pip install codex-core codex-models`` into a fresh venv: the venv, pip's report, and
    ``codex plugins list --json`` right after it."""
    env = make_venv(tmp_path_factory.mktemp("full-venv"), dist_dir)
    report = env.pip_install("codex-core", "codex-models")
    listed = env.codex("plugins", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return env, report, json.loads(listed.stdout)


@pytest.fixture(scope="session")
def full_venv(full_install: tuple[Venv, dict, list[dict]]) -> Venv:
    """The venv of ``full_install`` with codex-tokenizers added (so ``codex train`` has its
    tokenizers): codex-core, -tokenizers, -data, -models and torch, all from the built wheels.
    Tests add plugins to it; each removes what it added."""
    env = full_install[0]
    env.pip_install("codex-tokenizers")
    return env
