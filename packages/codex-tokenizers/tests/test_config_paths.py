"""Tokenizer files and training files named in a run config are relative to the config
file's folder, whatever the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_core.config import load_config
from codex_core.context import BuildContext
from codex_core.plugins import get_plugin_manager
from codex_core.testing import write_text as write
from codex_tokenizers import train

TEXT = "def add(a, b):\n    return a + b\n" * 40


@pytest.fixture
def conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codex_elsewhere: Path) -> Path:
    """``conf/`` with a training corpus; the working directory and the cache root elsewhere."""
    write(tmp_path / "conf" / "corpus" / "a.txt", TEXT)
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "home"))
    return tmp_path / "conf"


def build_tokenizer(run: Path):
    config = load_config(run).config
    return BuildContext(registry=get_plugin_manager().registry).build("tokenizer", config.tokenizer)


def test_a_tokenizer_file_is_found_beside_the_config(conf):
    train("bpe", vocab_size=300, texts=[TEXT], output=conf / "tok" / "tokenizer.json")
    run = write(conf / "run.yaml", """
        tokenizer: {name: tokenizer-json, params: {path: tok/tokenizer.json}}
        data: stdlib-code
        model: gpt2
    """)

    tok = build_tokenizer(run)

    assert tok.decode(tok.encode("return a + b").ids) == "return a + b"


@pytest.mark.parametrize("source", [
    "files: ['corpus/*.txt']",
    "dataset: text, dataset_params: {paths: [corpus]}",
])
def test_training_files_and_a_training_datasets_files_are_found_beside_the_config(conf, source):
    run = write(conf / "run.yaml", f"""
        tokenizer: {{name: bpe, params: {{vocab_size: 300, {source}}}}}
        data: stdlib-code
        model: gpt2
    """)

    tok = build_tokenizer(run)

    assert tok.decode(tok.encode("return a + b").ids) == "return a + b"
    assert tok.vocab_size > 260  # trained on the corpus: merges beyond the 256 bytes and 2 specials
