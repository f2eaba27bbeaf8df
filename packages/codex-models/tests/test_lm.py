"""``HFLanguageModel`` on the shared tiny trained run's checkpoint: the strided windows
predict every token once, ``rolling_nll`` and ``loglikelihood`` equal direct forwards
computed here, and ``generate`` is seeded, batched and equal to batched greedy decoding."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from codex_core.errors import CodexError
from codex_core.protocols import LanguageModel
from codex_models.evaluation.lm import HFLanguageModel, rolling_windows
from codex_models.generation.batched import PromptTooLongError, generate_batch

CONTEXT = 64


@pytest.fixture(scope="module")
def lm(eval_run: Path) -> HFLanguageModel:
    return HFLanguageModel.from_dir(eval_run / "checkpoints" / "step-00000030", device="cpu", batch_size=3)


def log_probs(model: Any, ids: list[int]) -> torch.Tensor:
    """log_softmax (float64) of one unpadded forward: row p is the distribution of token p + 1."""
    with torch.no_grad():
        return torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].double(), dim=-1)


def strided_nll(model: Any, ids: list[int], max_length: int, stride: int) -> tuple[float, int]:
    """The strided evaluation as transformers' perplexity guide writes it: windows start
    every ``stride`` tokens; each scores its last ``end - previous end`` tokens."""
    total, count, previous_end = 0.0, 0, 0
    for begin in range(0, len(ids), stride):
        end = min(begin + max_length, len(ids))
        lp = log_probs(model, ids[begin:end])
        for position in range(max(previous_end, 1), end):
            total -= float(lp[position - begin - 1, ids[position]])
            count += 1
        previous_end = end
        if end == len(ids):
            break
    return total, count


@pytest.mark.parametrize("max_length,stride", [(8, 4), (8, 7), (8, 1), (64, 32), (10, 3)])
def test_windows_predict_every_token_but_the_first_exactly_once_with_the_context_promised(
        max_length: int, stride: int) -> None:
    for length in [1, 2, 3, 7, 8, 9, 15, 16, 17, 40, 100, 129]:
        windows = rolling_windows(length, max_length, stride)
        scored = [p for _, end, first in windows for p in range(first, end)]

        assert scored == list(range(1, length))
        assert all(end - begin <= max_length and begin <= first - 1 for begin, end, first in windows)
        assert all(first - begin >= max_length - stride for begin, _, first in windows[1:])


def test_a_stride_outside_1_to_max_length_minus_1_is_an_error() -> None:
    for stride in (0, 8, 9):
        with pytest.raises(CodexError, match="stride must be at least 1 and below max_length"):
            rolling_windows(20, 8, stride)


def test_rolling_nll_equals_a_direct_strided_computation(lm: HFLanguageModel) -> None:
    eos = lm.eos_id
    texts = ["x", "def total(items):\n", "for x in items:\n    total = total + x\n" * 3,
             "return value if x else y\n" * 12]
    sequences = [[eos, *lm.tokenizer.encode(text).ids] for text in texts]
    assert min(map(len, sequences)) < 10 and max(map(len, sequences)) > 4 * CONTEXT

    for max_length, stride in [(CONTEXT, 32), (16, 5)]:
        got = lm.rolling_nll(sequences, max_length=max_length, stride=stride)
        for seq, (nll, count) in zip(sequences, got, strict=True):
            want, want_count = strided_nll(lm.model, seq, max_length, stride)
            assert count == want_count == len(seq) - 1
            assert nll == pytest.approx(want, rel=1e-6)


def test_rolling_nll_does_not_depend_on_the_batch_size(eval_run: Path, lm: HFLanguageModel) -> None:
    sequences = [[lm.eos_id, *lm.tokenizer.encode("if x: return y\n" * n).ids] for n in (1, 4, 9)]
    one = HFLanguageModel(lm.model, lm.tokenizer, batch_size=1)

    for (a, na), (b, nb) in zip(lm.rolling_nll(sequences, max_length=32, stride=8),
                                one.rolling_nll(sequences, max_length=32, stride=8), strict=True):
        assert na == nb and a == pytest.approx(b, rel=1e-6)


def test_rolling_nll_checks_max_length(lm: HFLanguageModel) -> None:
    with pytest.raises(CodexError, match="max_length must be between 2 and the model's context"):
        lm.rolling_nll([[lm.eos_id, 5, 6]], max_length=CONTEXT + 1, stride=8)


def lm_eval_pair(tokenizer: Any, eos: int, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-evaluation-harness's own split of a request into context and continuation ids
    (``TemplateLM._encode_pair``, and ``loglikelihood``'s empty context), over ``tokenizer``,
    with the separator as the prefix token."""
    from types import SimpleNamespace

    from lm_eval.api.model import TemplateLM

    def tok_encode(text: str, add_special_tokens: bool | None = None) -> list[int]:
        if add_special_tokens is None:
            return list(tokenizer.encode(text).ids)
        return list(tokenizer.encode(text, add_special_tokens=add_special_tokens).ids)

    if context == "":
        continuation_ids = tok_encode(continuation, add_special_tokens=False)
        return ([eos], continuation_ids) if continuation_ids[0] != eos else (continuation_ids[:1], continuation_ids[1:])
    return TemplateLM._encode_pair(SimpleNamespace(backend="causal", tok_encode=tok_encode), context, continuation)


def direct_loglikelihood(model: Any, context_ids: list[int], continuation_ids: list[int], context: int) -> float:
    ids = (context_ids + continuation_ids)[-(context + 1):]  # cut from the left to the context
    lp = log_probs(model, ids[:-1])
    start = len(ids) - 1 - len(continuation_ids)
    return sum(float(lp[start + j, t]) for j, t in enumerate(continuation_ids))


def test_loglikelihood_equals_a_direct_forward_on_lm_evals_split_of_context_and_continuation(
        lm: HFLanguageModel) -> None:
    pytest.importorskip("lm_eval")
    requests = [("for x in ", "items"), ("total = ", "total + x"), ("x\n\n", "  y"), ("", "def"),
                ("return value" * 8, " if x")]

    got = lm.loglikelihood(requests)

    for (context, continuation), (logprob, _) in zip(requests, got, strict=True):
        context_ids, continuation_ids = lm_eval_pair(lm.tokenizer, lm.eos_id, context, continuation)
        assert logprob == pytest.approx(direct_loglikelihood(lm.model, context_ids, continuation_ids, CONTEXT),
                                        rel=1e-5)
    assert len(lm.tokenizer.encode("".join(requests[-1])).ids) > CONTEXT + 1  # this one was cut


def test_loglikelihood_follows_lm_eval_with_a_tokenizer_that_adds_special_tokens() -> None:
    pytest.importorskip("lm_eval")
    from codex_models import GPT2Params, build_gpt2
    from codex_tokenizers.training import train

    tokenizer = train("bpe", vocab_size=300, texts=["for x in items: total = total + x\n"] * 30,
                      special_tokens=["<pad>", "<s>", "</s>", "<unk>"], template="bos-eos")
    assert tokenizer.encode("x").ids[0] == tokenizer.special_tokens["bos"]
    torch.manual_seed(0)
    model = build_gpt2(GPT2Params(n_layer=1, n_head=2, n_embd=32, vocab_size=tokenizer.vocab_size, n_positions=32))
    lm = HFLanguageModel(model, tokenizer)
    requests = [("", "total = x"), ("for x in ", "items"), ("", "</s>x")]

    got = lm.loglikelihood(requests)

    for (context, continuation), (logprob, _) in zip(requests, got, strict=True):
        context_ids, continuation_ids = lm_eval_pair(tokenizer, lm.eos_id, context, continuation)
        assert logprob == pytest.approx(direct_loglikelihood(model, context_ids, continuation_ids, 32), rel=1e-5)


def test_loglikelihood_is_greedy_exactly_for_the_greedy_continuation(lm: HFLanguageModel) -> None:
    prompt = "for x in items: total"  # no trailing whitespace: the continuation is what was generated
    (greedy,) = generate_batch(lm.model, lm.tokenizer, [prompt], max_new_tokens=6, temperature=0)
    other = "abcdef" if greedy.text != "abcdef" else "ghijkl"

    (_, is_greedy), (_, not_greedy), (empty, empty_greedy) = lm.loglikelihood(
        [(prompt, greedy.text), (prompt, other), (prompt, "")])

    assert is_greedy and not not_greedy
    assert (empty, empty_greedy) == (0.0, True)


def test_generate_gives_n_seeded_samples_per_prompt_and_greedy_equals_batched_greedy(lm: HFLanguageModel) -> None:
    prompts = ["def ", "for x in items:\n", "return"]
    lm.model.train()
    rng = torch.random.get_rng_state()

    sampled = lm.generate(prompts, n=4, max_new_tokens=12, temperature=1.0, seed=1)
    again = lm.generate(prompts, n=4, max_new_tokens=12, temperature=1.0, seed=1)
    greedy = lm.generate(prompts, n=2, max_new_tokens=12, stop=["\n"])

    assert [len(texts) for texts in sampled] == [4, 4, 4] and sampled == again
    assert all(len(set(texts)) > 1 for texts in sampled)  # the 4 samples of a prompt differ
    expected = generate_batch(lm.model, lm.tokenizer, prompts, max_new_tokens=12, temperature=0, stop=["\n"])
    assert greedy == [[row.text, row.text] for row in expected]
    assert torch.equal(torch.random.get_rng_state(), rng) and lm.model.training
    lm.model.eval()


def test_generate_names_the_prompt_that_fills_the_context(lm: HFLanguageModel) -> None:
    with pytest.raises(PromptTooLongError, match="prompt 2 has 70 tokens") as info:
        lm.generate(["def ", "x", "y" * 70], n=3, max_new_tokens=4)
    assert info.value.index == 2


def test_from_dir_gives_a_language_model_with_the_checkpoints_context_and_separator(
        eval_run: Path, lm: HFLanguageModel) -> None:
    assert isinstance(lm, LanguageModel)
    assert lm.context_length == CONTEXT
    assert lm.eos_id == lm.tokenizer.special_tokens["eos"]
    assert lm.path == eval_run / "checkpoints" / "step-00000030"
    assert lm.device == torch.device("cpu")
    assert not math.isnan(lm.rolling_nll([[lm.eos_id, 5]], max_length=8, stride=4)[0][0])
