"""``codex data`` run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys


def codex_data(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codex_core", "data", *args], capture_output=True, text=True,
                          timeout=120)


def test_list_json_names_the_installed_datasets_and_connectors():
    rows = json.loads(codex_data("list", "--json").stdout)

    names = {(r["kind"], r["name"]) for r in rows}
    assert {("dataset", "text"), ("dataset", "stdlib-code"), ("connector", "file")} <= names
    assert all(r["plugin"] for r in rows)
