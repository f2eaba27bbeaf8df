"""Install matrix: each package installs on its own into a fresh virtual environment."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def sh(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_CONSTRAINT": str(ROOT / "constraints.txt"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("CODEX_LOAD_PLUGINS", None)
    env.pop("CODEX_DISABLE_PLUGINS", None)
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=900)


@pytest.mark.slow
def test_codex_core_alone_lists_plugins_and_validates_configs(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    codex = env_dir / "bin" / "codex"
    config = tmp_path / "run.yaml"
    config.write_text("tokenizer: char\ndata: stdlib-code\nmodel: {name: gpt2, params: {n_layer: 2}}\n")

    installed = sh(python, "-m", "pip", "install", "-q", ROOT / "packages" / "codex-core")
    assert installed.returncode == 0, installed.stderr
    listed = sh(codex, "plugins", "list", "--json", cwd=tmp_path)
    validated = sh(codex, "config", "validate", "-c", config, cwd=tmp_path)
    train = sh(codex, "train", cwd=tmp_path)
    modules = sh(python, "-c", "import codex_core.cli, sys; print(sorted(m for m in sys.modules if m.startswith(('codex_', 'torch'))))")

    assert (listed.returncode, json.loads(listed.stdout)) == (0, [])
    assert validated.returncode == 0, validated.stderr
    assert "ok:" in validated.stdout and "model 'gpt2' is not installed here" in validated.stderr
    assert train.returncode == 2
    assert train.stderr.strip() == "error: `codex train` is provided by codex-models, which is not installed (pip install codex-models)"
    assert "codex_tokenizers" not in modules.stdout and "torch" not in modules.stdout

    added = sh(python, "-m", "pip", "install", "-q", ROOT / "packages" / "codex-core", ROOT / "packages" / "codex-tokenizers")
    assert added.returncode == 0, added.stderr
    listed = json.loads(sh(codex, "plugins", "list", "--json", cwd=tmp_path).stdout)

    assert [(p["distribution"], p["status"]) for p in listed] == [("codex-tokenizers", "ok")]
    assert "char" in listed[0]["components"]["tokenizer"]

    # Without the `tokenizers` library (the [rust] extra), the pure-Python engine serves.
    from codex_tokenizers import load, train

    tok_json = tmp_path / "tokenizer.json"
    train("bpe", vocab_size=300, texts=["def add(a, b):\n    return a + b\n"] * 50, output=tok_json)
    text = "def add(x, y): return x + y  # ünïcode 👍"
    encoded = sh(codex, "tokenizer", "encode", "-t", tok_json, "--json", text, cwd=tmp_path)
    forced = sh(codex, "tokenizer", "encode", "-t", tok_json, "--backend", "rust", text, cwd=tmp_path)

    assert encoded.returncode == 0, encoded.stderr
    result = json.loads(encoded.stdout)
    assert result["backend"] == "python"
    assert result["ids"] == load(tok_json, backend="rust").encode(text).ids
    assert forced.returncode == 2 and "needs the 'tokenizers' library" in forced.stderr
