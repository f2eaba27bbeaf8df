"""Healing a prompt's trailing whitespace: with byte-level BPE ``"def "`` ends in a lone
``" "`` token, which training text follows with more space, not with a name; the token is
taken back and the first new token must start with it."""

from __future__ import annotations

from typing import Any

import pytest

from codex_models import GPT2Params, build_gpt2
from codex_models.generation.sampling import generate

torch = pytest.importorskip("torch")

CORPUS = [f"def name_{i}(x):\n    return x + {i}\n" for i in range(200)]


@pytest.fixture(scope="module")
def model_and_tokenizer() -> tuple[Any, Any]:
    from codex_tokenizers.training import train

    tokenizer = train("bpe", vocab_size=300, texts=CORPUS)
    torch.manual_seed(0)
    model = build_gpt2(GPT2Params(n_layer=1, n_embd=32, n_head=2, n_positions=64, vocab_size=tokenizer.vocab_size))
    return model.eval(), tokenizer


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_first_token_continues_the_trailing_space(model_and_tokenizer: tuple[Any, Any], seed: int) -> None:
    model, tokenizer = model_and_tokenizer
    assert [tokenizer.decode([i]) for i in tokenizer.encode("def ").ids] == ["def", " "]

    result = generate(model, tokenizer, "def ", max_new_tokens=8, seed=seed, heal_whitespace=True)

    assert result.prompt_ids == tokenizer.encode("def").ids
    first = tokenizer.decode([result.new_ids[0]])
    assert first.startswith(" ") and len(first) > 1
    assert "def " + result.text == tokenizer.decode(result.prompt_ids + result.new_ids, skip_special_tokens=True)


def test_without_healing_or_without_trailing_space_the_prompt_is_kept(model_and_tokenizer: tuple[Any, Any]) -> None:
    model, tokenizer = model_and_tokenizer

    plain = generate(model, tokenizer, "def ", max_new_tokens=4, seed=0)
    no_space = generate(model, tokenizer, "def name_1(x)", max_new_tokens=4, seed=0, heal_whitespace=True)

    assert plain.prompt_ids == tokenizer.encode("def ").ids
    assert no_space.prompt_ids == tokenizer.encode("def name_1(x)").ids
