"""Lazy re-exports keep package imports cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_a_lazy_export_is_imported_on_first_use_only():
    code = (
        "import sys, codex_core; "
        "before = 'codex_core.runs' in sys.modules; "
        "codex_core.RunDir; "
        "print(before, 'codex_core.runs' in sys.modules, 'RunDir' in vars(codex_core))"
    )

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.split() == ["False", "True", "True"]


def test_an_unknown_attribute_is_an_attribute_error():
    import codex_core

    with pytest.raises(AttributeError, match="module 'codex_core' has no attribute 'Nope'"):
        _ = codex_core.Nope
