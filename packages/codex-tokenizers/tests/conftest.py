"""Tokenizers trained once per test session by the library on real text."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizer_corpus import training_texts


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{kind: tokenizer.json}`` for bpe, wordpiece and unigram, trained on stdlib text."""
    from codex_tokenizers.training import train

    out = tmp_path_factory.mktemp("trained")
    files = {}
    for kind, vocab in (("bpe", 4000), ("wordpiece", 3000), ("unigram", 3000)):
        files[kind] = out / f"{kind}.json"
        train(kind, vocab_size=vocab, texts=training_texts(), output=files[kind])
    return files


@pytest.fixture(scope="session")
def engines(trained: dict[str, Path]) -> dict[str, tuple[object, object]]:
    """``{kind: (rust engine, python engine)}`` over the trained tokenizers."""
    from codex_tokenizers import load

    return {kind: (load(path, backend="rust"), load(path, backend="python")) for kind, path in trained.items()}
