from __future__ import annotations

from pathlib import Path

import pytest

from codex_core.context import BuildContext
from codex_core.registry import Registry


@pytest.fixture
def run_context(codex_installed_registry: Registry, tmp_path: Path) -> BuildContext:
    """A build context for a run whose directory is ``tmp_path / "run"``."""
    return BuildContext(registry=codex_installed_registry, run_dir=tmp_path / "run", cache_dir=tmp_path / "cache")
