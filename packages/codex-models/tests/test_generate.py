"""Sampling from a tiny GPT-2 and streaming its text, with a byte-level BPE trained here on
text with emoji and CJK (so one character's bytes are often split across tokens)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import torch

from codex_core.errors import CodexError
from codex_models import GPT2Params, StreamDecoder, build_gpt2
from codex_models.generation.sampling import generate

REPLACEMENT = "\ufffd"
CORPUS = [
    "Hello world 👋 and a party 🎉🚀 tonight.",
    "日本語のテキストと中文文本，还有한국어 텍스트。",
    "The quick brown fox 🦊 jumps over the lazy dog 🐶.",
    "Ünïcödé façade, naïve café — déjà vu ✨",
]
PROMPTS = ["日本 🦊", "Hello 👋", "中文🎉", "café ✨ 한국"]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from codex_tokenizers.training import train

    # few merges: most emoji and CJK characters stay split over several byte tokens
    return train("bpe", vocab_size=300, texts=CORPUS * 20)


@pytest.fixture(scope="module")
def model(tokenizer: Any) -> Any:
    torch.manual_seed(0)
    return build_gpt2(GPT2Params(n_layer=2, n_embd=32, n_head=2, vocab_size=tokenizer.vocab_size, n_positions=64))


def decode(tokenizer: Any, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=True)


def test_stream_decoder_emits_whole_characters_of_emoji_and_cjk(tokenizer: Any) -> None:
    text = "".join(CORPUS)
    ids = tokenizer.encode(text).ids
    assert any(REPLACEMENT in tokenizer.decode([i]) for i in ids)  # characters split across tokens

    stream = StreamDecoder(tokenizer)
    chunks = [stream.push(i) for i in ids] + [stream.finish()]

    assert "".join(chunks) == text
    assert not any(REPLACEMENT in chunk for chunk in chunks)


@pytest.mark.parametrize("kind", ["wordpiece", "unigram"])
def test_stream_decoder_decodes_the_continuation_in_the_context_of_the_prompt(kind: str) -> None:
    from codex_tokenizers.training import train

    tok = train(kind, vocab_size=120, texts=["the quick brown fox jumps over the lazy dog\n"] * 40, template="none")
    ids = tok.encode("the quick brown fox jumps over the lazy dog").ids
    prompt = tok.encode("the quick").ids
    assert ids[:len(prompt)] == prompt
    rest = ids[len(prompt):]

    stream = StreamDecoder(tok, prompt)
    streamed = "".join([stream.push(i) for i in rest] + [stream.finish()])

    assert tok.decode(prompt) + streamed == tok.decode(ids)
    assert streamed.startswith(" ")  # the space before the first new word, which decode(rest) drops


def test_streamed_chunks_join_to_the_decoded_new_ids_for_many_seeds(model: Any, tokenizer: Any) -> None:
    split_characters = 0
    for prompt in PROMPTS:
        for seed in range(8):
            chunks: list[str] = []
            result = generate(model, tokenizer, prompt, max_new_tokens=24, seed=seed, on_text=chunks.append)

            assert "".join(chunks) == result.text == decode(tokenizer, result.new_ids)
            assert decode(tokenizer, result.prompt_ids + result.new_ids) == prompt + result.text
            assert not any(chunk.endswith(REPLACEMENT) for chunk in chunks[:-1])
            split_characters += "".join(decode(tokenizer, [i]) for i in result.new_ids) != result.text
    assert split_characters > 0  # decoding token by token would have streamed broken characters


def test_the_same_seed_gives_the_same_text_and_other_seeds_other_text(model: Any, tokenizer: Any) -> None:
    texts = [generate(model, tokenizer, "Hello 👋", max_new_tokens=16, seed=seed).text for seed in (1, 1, 2, 3)]

    assert texts[0] == texts[1]
    assert len(set(texts[1:])) == 3


def test_sampling_leaves_the_global_rng_alone_and_reports_its_seed(model: Any, tokenizer: Any) -> None:
    state = torch.get_rng_state()
    result = generate(model, tokenizer, "Hello", max_new_tokens=8)

    assert torch.equal(torch.get_rng_state(), state)
    assert generate(model, tokenizer, "Hello", max_new_tokens=8, seed=result.seed).text == result.text


def test_greedy_is_the_argmax_of_the_full_sequence_at_every_step(model: Any, tokenizer: Any) -> None:
    result = generate(model, tokenizer, "日本 🦊", max_new_tokens=20, temperature=0, stop_at_eos=False)

    ids = list(result.prompt_ids)
    with torch.no_grad():
        for _ in range(20):  # no KV cache: the whole sequence every step
            ids.append(int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax()))
    assert result.new_ids == ids[len(result.prompt_ids):]


def test_top_k_1_and_a_tiny_top_p_are_greedy(model: Any, tokenizer: Any) -> None:
    greedy = generate(model, tokenizer, "Hello", max_new_tokens=16, temperature=0, stop_at_eos=False).new_ids

    assert generate(model, tokenizer, "Hello", max_new_tokens=16, top_k=1, seed=5, stop_at_eos=False).new_ids == greedy
    assert generate(model, tokenizer, "Hello", max_new_tokens=16, top_p=1e-6, seed=5,
                    stop_at_eos=False).new_ids == greedy


def test_top_k_keeps_to_the_k_most_likely_tokens(model: Any, tokenizer: Any) -> None:
    result = generate(model, tokenizer, "Hello", max_new_tokens=12, top_k=3, seed=0, temperature=2.0,
                      stop_at_eos=False)

    ids = list(result.prompt_ids)
    with torch.no_grad():
        for new in result.new_ids:
            top3 = model(input_ids=torch.tensor([ids])).logits[0, -1].topk(3).indices.tolist()
            assert new in top3
            ids.append(new)


def test_max_new_tokens_is_respected(model: Any, tokenizer: Any) -> None:
    result = generate(model, tokenizer, "Hello", max_new_tokens=7, seed=0, stop_at_eos=False)
    assert (len(result.new_ids), result.stop_reason) == (7, "max_new_tokens")
    assert generate(model, tokenizer, "Hello", max_new_tokens=0).new_ids == []


def favour(model: Any, token: int, *, after_calls: int) -> Any:
    """Make ``token`` by far the most likely one from the ``after_calls``-th forward on."""
    calls = []

    def hook(_module: Any, _inputs: Any, logits: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        if len(calls) > after_calls:
            logits = logits.clone()
            logits[..., token] += 1e4
        return logits

    return model.lm_head.register_forward_hook(hook)


def test_eos_stops_the_generation_and_is_not_part_of_the_output(model: Any, tokenizer: Any) -> None:
    eos = tokenizer.special_tokens["eos"]
    handle = favour(model, eos, after_calls=3)
    try:
        result = generate(model, tokenizer, "Hello", max_new_tokens=20, seed=0)
    finally:
        handle.remove()

    assert (len(result.new_ids), result.stop_reason) == (3, "eos")
    assert eos not in result.new_ids


def test_without_stop_at_eos_the_generation_goes_on(model: Any, tokenizer: Any) -> None:
    handle = favour(model, tokenizer.special_tokens["eos"], after_calls=3)
    try:
        result = generate(model, tokenizer, "Hello", max_new_tokens=6, seed=0, stop_at_eos=False)
    finally:
        handle.remove()

    assert result.new_ids[3:] == [tokenizer.special_tokens["eos"]] * 3
    assert result.text == decode(tokenizer, result.new_ids[:3])  # special tokens are left out of the text


def test_ids_past_the_tokenizer_vocabulary_are_never_drawn(tokenizer: Any) -> None:
    torch.manual_seed(0)
    padded = build_gpt2(GPT2Params(n_layer=1, n_embd=16, n_head=2, vocab_size=tokenizer.vocab_size + 20,
                                   n_positions=32))
    handle = favour(padded, tokenizer.vocab_size + 5, after_calls=0)
    try:
        result = generate(padded, tokenizer, "Hello", max_new_tokens=8, seed=0, stop_at_eos=False)
    finally:
        handle.remove()

    assert len(result.new_ids) == 8 and max(result.new_ids) < tokenizer.vocab_size


def test_a_prompt_longer_than_the_context_is_cut_from_the_left(model: Any, tokenizer: Any,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    long_prompt = " ".join(CORPUS * 3)
    ids = tokenizer.encode(long_prompt).ids
    assert len(ids) > 64

    with caplog.at_level(logging.WARNING, logger="codex"):
        result = generate(model, tokenizer, long_prompt, max_new_tokens=10, seed=0, stop_at_eos=False)

    assert result.prompt_ids == ids[-63:] and result.truncated == len(ids) - 63
    assert (len(result.new_ids), result.stop_reason) == (1, "context")
    assert "the first" in caplog.text and "are dropped" in caplog.text


def test_the_generation_stops_at_the_context_length(model: Any, tokenizer: Any) -> None:
    result = generate(model, tokenizer, "Hello", max_new_tokens=200, seed=0, stop_at_eos=False)

    assert len(result.prompt_ids) + len(result.new_ids) == 64 and result.stop_reason == "context"


def test_an_empty_prompt_starts_from_the_bos_token(model: Any, tokenizer: Any) -> None:
    result = generate(model, tokenizer, "", max_new_tokens=5, seed=0, stop_at_eos=False)

    assert result.prompt_ids == [tokenizer.special_tokens["bos"]]
    assert result.text == decode(tokenizer, result.new_ids)


@pytest.mark.parametrize(("settings", "message"), [
    ({"temperature": -0.5}, "temperature must be 0"),
    ({"temperature": float("nan")}, "temperature must be 0"),
    ({"top_p": 0.0}, "top_p must be in (0, 1]"),
    ({"top_p": 1.5}, "top_p must be in (0, 1]"),
    ({"top_k": 0}, "top_k must be 1 or more"),
    ({"max_new_tokens": -1}, "max_new_tokens must be 0 or more"),
])
def test_settings_out_of_range_are_user_errors(model: Any, tokenizer: Any, settings: dict[str, Any],
                                               message: str) -> None:
    with pytest.raises(CodexError, match=message.replace("(", r"\(").replace("]", r"\]")):
        generate(model, tokenizer, "Hello", **settings)


def test_the_stream_decodes_a_bounded_window_however_long_the_output(tokenizer: Any) -> None:
    class Recording:
        """The tokenizer, recording how many ids each decode call gets."""

        def __init__(self) -> None:
            self.lengths: list[int] = []

        def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
            self.lengths.append(len(ids))
            return tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)

    text = " ".join(CORPUS * 10)
    ids = tokenizer.encode(text).ids
    recording = Recording()
    stream = StreamDecoder(recording)  # type: ignore[arg-type]

    assert "".join([stream.push(i) for i in ids] + [stream.finish()]) == text
    assert len(ids) > 300 and max(recording.lengths) <= 8
