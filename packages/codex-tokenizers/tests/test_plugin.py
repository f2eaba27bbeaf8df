"""The plugin module: registration is cheap and names the components codex expects."""

from __future__ import annotations

from codex_core.config import load_config
from codex_core.registry import Registry


def test_the_entry_point_registers_char(codex_installed_registry: Registry) -> None:
    assert codex_installed_registry.get("tokenizer", "char").plugin == "tokenizers"


def test_the_default_run_config_tokenizer_validates(codex_installed_registry: Registry) -> None:
    ref = load_config().config.tokenizer
    assert codex_installed_registry.get("tokenizer", ref.name).validate_params(ref.params) is not None
