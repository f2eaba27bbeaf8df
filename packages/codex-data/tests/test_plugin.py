"""The plugin module: registration is cheap and names the components codex expects."""

from __future__ import annotations

from codex_core.config import load_config
from codex_core.registry import Registry
from codex_data import StdlibCodeDataset


def test_the_entry_point_registers_the_connector_and_datasets(codex_installed_registry: Registry) -> None:
    assert codex_installed_registry.by_plugin("data") == {
        "dataset": ["csv", "hf-disk", "jsonl", "sft-jsonl", "stdlib-code", "text"],
        "connector": ["file", "http", "https", "stdlib"],
    }


def test_the_default_run_config_dataset_builds(codex_installed_registry: Registry) -> None:
    dataset = codex_installed_registry.build("dataset", load_config().config.data)
    assert isinstance(dataset, StdlibCodeDataset)
