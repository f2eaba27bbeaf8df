"""Inside a run the model's vocabulary and special ids come from the run's tokenizer."""

from __future__ import annotations

from typing import Any

import pytest

from codex_core.context import BuildContext
from codex_core.errors import ComponentError
from codex_core.registry import Registry

pytest.importorskip("transformers")


@pytest.fixture
def bpe(tmp_path: Any) -> Any:
    from codex_tokenizers.training import train

    text = "def add(a, b):\n    return a + b\n" * 50 + "class Point:\n    x: int = 0\n" * 50
    return train("bpe", texts=[text], vocab_size=300, min_frequency=1)


def _context(registry: Registry, tokenizer: Any, tmp_path: Any) -> BuildContext:
    return BuildContext(registry=registry, cache_dir=tmp_path, tokenizer=tokenizer)


@pytest.mark.parametrize(("family", "vocab_attr"), [("gpt2", "vocab_size"), ("llama", "vocab_size")])
def test_vocab_size_and_special_ids_come_from_the_tokenizer(
    codex_installed_registry: Registry, bpe: Any, tmp_path: Any, family: str, vocab_attr: str
) -> None:
    model = codex_installed_registry.build("model", family, {"preset": "tiny"},
                                           context=_context(codex_installed_registry, bpe, tmp_path))
    roles = bpe.special_tokens
    got = (model.config.vocab_size, model.get_input_embeddings().num_embeddings, model.config.eos_token_id)
    assert got == (bpe.vocab_size, bpe.vocab_size, roles["eos"])


def test_an_explicit_vocab_size_above_the_tokenizers_is_kept(
    codex_installed_registry: Registry, bpe: Any, tmp_path: Any
) -> None:
    model = codex_installed_registry.build("model", "gpt2", {"preset": "tiny", "vocab_size": 512},
                                           context=_context(codex_installed_registry, bpe, tmp_path))
    assert model.config.vocab_size == 512


def test_an_explicit_vocab_size_below_the_tokenizers_is_an_error(
    codex_installed_registry: Registry, bpe: Any, tmp_path: Any
) -> None:
    with pytest.raises(ComponentError, match=rf"vocab_size 104 is below the tokenizer's {bpe.vocab_size}"):
        codex_installed_registry.build("model", "gpt2", {"preset": "tiny", "vocab_size": 104},
                                       context=_context(codex_installed_registry, bpe, tmp_path))


def test_an_explicit_eos_id_wins_over_the_tokenizers(
    codex_installed_registry: Registry, bpe: Any, tmp_path: Any
) -> None:
    model = codex_installed_registry.build("model", "llama", {"preset": "tiny", "eos_token_id": 7},
                                           context=_context(codex_installed_registry, bpe, tmp_path))
    assert (model.config.eos_token_id, model.config.vocab_size) == (7, bpe.vocab_size)


def test_without_a_tokenizer_the_preset_vocab_is_used(codex_installed_registry: Registry, tmp_path: Any) -> None:
    model = codex_installed_registry.build("model", "gpt2", {"preset": "tiny"},
                                           context=BuildContext(registry=codex_installed_registry, cache_dir=tmp_path))
    assert model.config.vocab_size == 104
