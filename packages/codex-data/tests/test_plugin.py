"""The plugin module: registration is cheap and names the components codex expects."""

from __future__ import annotations

import subprocess
import sys

from codex_core.config import load_config
from codex_core.registry import Registry
from codex_data import StdlibCodeDataset

HEAVY = ("torch", "transformers", "pydantic")


def test_importing_the_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, codex_data.plugin; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_the_entry_point_registers_the_connector_and_datasets(codex_installed_registry: Registry) -> None:
    assert codex_installed_registry.by_plugin("data") == {
        "dataset": ["stdlib-code", "text"],
        "connector": ["file"],
    }


def test_the_default_run_config_dataset_builds(codex_installed_registry: Registry) -> None:
    dataset = codex_installed_registry.build("dataset", load_config().config.data)
    assert isinstance(dataset, StdlibCodeDataset)
