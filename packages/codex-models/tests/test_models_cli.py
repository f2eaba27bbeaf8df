"""``codex models`` run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

from codex_models import param_count
from codex_models.models.presets import PRESETS


def codex(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codex_core", *args], capture_output=True, text=True, timeout=120,
                          check=True)


def test_list_json_has_every_preset_with_its_count_memory_and_config() -> None:
    rows = json.loads(codex("models", "list", "--json").stdout)

    assert [(r["family"], r["preset"], r["params"], r["memory"]["weights_fp32"], r["config"]) for r in rows] == [
        (family, name, param_count(family, config), 4 * param_count(family, config), config)
        for family, presets in PRESETS.items() for name, config in presets.items()
    ]


def test_list_prints_a_table_of_presets() -> None:
    out = codex("models", "list").stdout
    assert "gpt2-124m          124.4M" in out and "tinyllama-1.1b       1.1B" in out


def test_list_imports_neither_torch_nor_transformers() -> None:
    script = (
        "import sys\n"
        "from codex_core.cli.app import cli\n"
        "try:\n"
        "    cli(['models', 'list', '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout)[0]["family"] == "gpt2"
    assert result.stderr.strip().splitlines()[-1] == "[]"
