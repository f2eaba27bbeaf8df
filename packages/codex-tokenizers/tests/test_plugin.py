"""The plugin module: registration is cheap and names the components codex expects."""

from __future__ import annotations

import subprocess
import sys

from codex_core.config import load_config
from codex_core.registry import Registry

HEAVY = ("torch", "transformers", "pydantic")


def test_importing_the_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, codex_tokenizers.plugin; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_the_entry_point_registers_char(codex_installed_registry: Registry) -> None:
    assert codex_installed_registry.get("tokenizer", "char").plugin == "tokenizers"


def test_the_default_run_config_tokenizer_validates(codex_installed_registry: Registry) -> None:
    ref = load_config().config.tokenizer
    assert codex_installed_registry.get("tokenizer", ref.name).validate_params(ref.params) is not None
