"""Shared helpers: fake plugin distributions on disk, and running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


def write_plugin_dist(
    site: Path,
    dist: str,
    module: str,
    source: str,
    *,
    entry_point: str | None = None,
    version: str = "1.0.0",
    requires: tuple[str, ...] = ("codex-core>=1!0.3,<1!1",),
) -> Path:
    """An installed-looking distribution in ``site``: a module and a .dist-info folder
    with METADATA and a ``codex`` entry point, as pip would leave it."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    meta = ["Metadata-Version: 2.1", f"Name: {dist}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    (info / "entry_points.txt").write_text(f"[codex]\n{entry_point or dist} = {module}\n")
    return site


@pytest.fixture
def plugin_site(tmp_path: Path) -> Callable[..., Path]:
    """Make fake plugin distributions under one temp folder; returns that folder."""
    site = tmp_path / "site"

    def make(dist: str, module: str, source: str, **kwargs: object) -> Path:
        return write_plugin_dist(site, dist, module, source, **kwargs)  # type: ignore[arg-type]

    return make


def run_codex(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
              extra_path: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``codex`` CLI in a subprocess (``python -m codex_core``)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("CODEX_DEBUG", None)
    if extra_path is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), full_env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "codex_core", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, input=input, timeout=120)


@pytest.fixture
def codex() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_codex
