"""Batched sampling (``generate_batch``): greedy rows equal one-prompt generation whatever the
other prompts' lengths, each row stops on its own (eos, stop strings, the context), and
sampling is seeded and leaves the global RNG alone.

The shared tiny trained run's checkpoint (30 steps) greedily writes only spaces, so the
greedy checks use a GPT-2 of the same shape with random weights scaled up (varied text,
clear margins between the top logits) and the run's char tokenizer; sampling uses the
trained checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from codex_core.errors import CodexError
from codex_models import GPT2Params, build_gpt2
from codex_models.generation.batched import PromptTooLongError, generate_batch
from codex_models.generation.sampling import generate
from codex_models.models.model_dir import load_model_dir

# Prompts of very different lengths (the empty one starts from the separator); the last
# leaves 4 tokens of the context of 64, so it stops at the context while the others go on.
PROMPTS = ["def ", "", "for x in items:\n    total = total + x\n", "return value", "if x " * 12]


@pytest.fixture(scope="module")
def loaded(eval_run: Path) -> tuple[Any, Any]:
    return load_model_dir(eval_run / "checkpoints" / "step-00000030")


def varied_model(tokenizer: Any) -> Any:
    torch.manual_seed(0)
    model = build_gpt2(GPT2Params(n_layer=2, n_head=2, n_embd=32, vocab_size=tokenizer.vocab_size, n_positions=64))
    with torch.no_grad():
        for weight in model.parameters():
            weight.mul_(4)
    return model.eval()


@pytest.fixture(scope="module")
def varied(loaded: tuple[Any, Any]) -> tuple[Any, Any]:
    return varied_model(loaded[1]), loaded[1]


def test_greedy_rows_equal_one_prompt_generation_and_a_batch_of_one(varied: tuple[Any, Any]) -> None:
    model, tokenizer = varied
    assert len(tokenizer.encode(PROMPTS[-1]).ids) == 60

    batch = generate_batch(model, tokenizer, PROMPTS, max_new_tokens=24, temperature=0)

    for prompt, row in zip(PROMPTS, batch, strict=True):
        alone = generate(model, tokenizer, prompt, max_new_tokens=24, temperature=0)
        (one,) = generate_batch(model, tokenizer, [prompt], max_new_tokens=24, temperature=0)
        assert row.new_ids == alone.new_ids == one.new_ids
        assert row.text == alone.text == one.text
        assert row.stop_reason == alone.stop_reason == one.stop_reason
    assert [row.stop_reason for row in batch][-1] == "context" and len(batch[-1].new_ids) == 4
    assert len(batch[0].new_ids) == 24  # the short rows went on after the long one stopped
    assert len({row.text for row in batch}) == len(PROMPTS)


def test_each_row_stops_at_its_own_stop_string_and_its_text_is_cut_before_it(varied: tuple[Any, Any]) -> None:
    model, tokenizer = varied
    free = generate_batch(model, tokenizer, PROMPTS[:4], max_new_tokens=30, temperature=0)
    stop = free[0].text[5:8]  # a string the first row produces, after a few tokens
    assert len(stop) == 3 and free[0].text.index(stop) == 5

    cut = generate_batch(model, tokenizer, PROMPTS[:4], max_new_tokens=30, temperature=0, stop=[stop, "never"])

    for before, after in zip(free, cut, strict=True):
        if stop in before.text:
            assert after.text == before.text[:before.text.index(stop)]
            assert after.stop_reason == "stop"
            assert before.new_ids[:len(after.new_ids)] == after.new_ids  # stopped growing there
            assert len(after.new_ids) < len(before.new_ids)
        else:
            assert (after.text, after.new_ids, after.stop_reason) == (before.text, before.new_ids, before.stop_reason)
    assert cut[0].text == free[0].text[:5]


def test_each_row_stops_at_its_first_eos(loaded: tuple[Any, Any]) -> None:
    model, tokenizer = varied_model(loaded[1]), loaded[1]
    free = generate_batch(model, tokenizer, PROMPTS[:4], max_new_tokens=20, temperature=0)
    model.config.eos_token_id = free[0].new_ids[6]  # an id the first row samples: now it ends a row

    ended = generate_batch(model, tokenizer, PROMPTS[:4], max_new_tokens=20, temperature=0)

    eos = model.config.eos_token_id
    for before, after in zip(free, ended, strict=True):
        if eos in before.new_ids:
            assert after.new_ids == before.new_ids[:before.new_ids.index(eos)]
            assert after.stop_reason == "eos"
        else:
            assert after.new_ids == before.new_ids and after.stop_reason == "max_new_tokens"
    assert len(ended[0].new_ids) <= 6


def test_sampling_is_seeded_filtered_and_leaves_the_global_rng_and_the_mode_alone(loaded: tuple[Any, Any]) -> None:
    model, tokenizer = loaded
    model.train()
    rng = torch.random.get_rng_state()
    prompts = ["def "] * 4 + ["return "] * 4

    first = generate_batch(model, tokenizer, prompts, max_new_tokens=16, temperature=1.0, top_p=0.95, seed=3)
    again = generate_batch(model, tokenizer, prompts, max_new_tokens=16, temperature=1.0, top_p=0.95, seed=3)
    other = generate_batch(model, tokenizer, prompts, max_new_tokens=16, temperature=1.0, top_p=0.95, seed=4)
    top1 = generate_batch(model, tokenizer, prompts, max_new_tokens=16, temperature=0.7, top_k=1, seed=5)
    greedy = generate_batch(model, tokenizer, prompts, max_new_tokens=16, temperature=0)

    assert [s.new_ids for s in first] == [s.new_ids for s in again]
    assert [s.new_ids for s in first] != [s.new_ids for s in other]
    assert len({tuple(s.new_ids) for s in first[:4]}) > 1  # the rows of one prompt are different samples
    assert [s.new_ids for s in top1] == [s.new_ids for s in greedy]
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert model.training
    model.eval()


def test_a_prompt_filling_the_context_is_a_one_line_error_naming_it(loaded: tuple[Any, Any]) -> None:
    model, tokenizer = loaded

    with pytest.raises(PromptTooLongError, match=r"prompt 1 has 64 tokens.*context of 64") as info:
        generate_batch(model, tokenizer, ["def ", "x" * 64], max_new_tokens=4, temperature=0)

    assert isinstance(info.value, CodexError) and info.value.index == 1 and "\n" not in str(info.value)


def test_sampling_settings_out_of_range_are_errors(loaded: tuple[Any, Any]) -> None:
    model, tokenizer = loaded

    with pytest.raises(CodexError, match="top_p must be in"):
        generate_batch(model, tokenizer, ["def "], top_p=0.0)
