"""Every installed codex plugin module imports cheaply: loading plugins happens on every
``codex`` command, so no plugin may import torch, transformers, peft, mlflow or pydantic
at import time (factories and params models are registered as lazy references)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

HEAVY = ("torch", "transformers", "peft", "mlflow", "pydantic", "numpy")
PLUGINS = sorted((ep.name, ep.value) for ep in entry_points(group="codex"))


def test_the_first_party_plugins_are_installed():
    assert {name for name, _ in PLUGINS} >= {"tokenizers", "models", "data", "telemetry"}


@pytest.mark.parametrize(("name", "module"), PLUGINS, ids=[n for n, _ in PLUGINS])
def test_importing_a_plugin_module_imports_nothing_heavy(name, module):
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
