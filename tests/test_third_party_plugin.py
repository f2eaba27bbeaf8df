"""A third-party plugin package, built and installed by pip, works end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def codex(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codex_core", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.slow
def test_the_example_plugin_installs_lists_and_validates(tmp_path):
    target = tmp_path / "site"
    env = {**os.environ, "PIP_CONSTRAINT": str(ROOT / "constraints.txt")}
    built = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                            str(ROOT / "examples" / "codex-word-f1")], capture_output=True, text=True, env=env,
                           timeout=600)
    assert built.returncode == 0, built.stderr
    env["PYTHONPATH"] = str(target)
    good = tmp_path / "good.yaml"
    good.write_text("tokenizer: char\ndata: stdlib-code\nmodel: gpt2\nmetrics: [{name: f1, params: {lowercase: false}}]\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tokenizer: char\ndata: stdlib-code\nmodel: gpt2\nmetrics: [{name: word-f1, params: {lower: true}}]\n")

    listed = json.loads(codex("plugins", "list", "--json", "--kind", "metric", env=env).stdout)
    valid = codex("config", "validate", "-c", str(good), env=env)
    invalid = codex("config", "validate", "-c", str(bad), env=env)

    example = next(p for p in listed if p["name"] == "word-f1")
    assert (example["distribution"], example["status"], example["components"]) == (
        "codex-word-f1", "ok", {"metric": ["word-f1"]})
    assert valid.returncode == 0, valid.stderr
    assert invalid.returncode == 2
    assert "metrics.0: unknown key 'lower' (params of metric 'word-f1'); did you mean 'lowercase'?" in invalid.stderr
