"""Sampling many prompts at once from a causal LM: one forward per step for the whole batch.

:func:`generate_batch` left-pads the prompts (an attention mask hides the padding and
explicit ``position_ids`` number each row's tokens from 0, as absolute position embeddings
such as GPT-2's need), keeps one KV cache for the batch, and samples each row as
:func:`codex_models.generation.sampling.generate` does (temperature 0 is greedy, then
top-k and top-p, a dedicated ``torch.Generator``). A row stops at an eos id, when its
continuation contains one of the ``stop`` strings (its text is cut before the first), after
``max_new_tokens``, or at the model's context length; a finished row no longer grows, and is
dropped from the batch (and the cache) when the cache allows it.

Greedy output does not depend on the batch: a prompt gives the same ids alone as among
others of any length (the padding changes no logit beyond float rounding).

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codex_core.errors import CodexError
from codex_models.generation.sampling import (
    cache_argument,
    check_sampling,
    encode_prompt,
    eos_ids,
    filter_logits,
    forward_accepts,
    model_device,
    vocab_logits,
)
from codex_models.generation.stream import StreamDecoder
from codex_models.models.hf_config import context_length

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from codex_core.protocols import Tokenizer

__all__ = ["BatchSample", "PromptTooLongError", "encode_prompts", "generate_batch"]


@dataclass
class BatchSample:
    """One row of :func:`generate_batch`.

    :ivar prompt_ids: the prompt's ids (an empty prompt is the tokenizer's bos, else eos, id).
    :ivar new_ids: the sampled ids, without the eos that stopped the row (with the tokens of
        a stop string: the text is what is cut).
    :ivar text: the continuation, as streamed (``decode(prompt_ids + new_ids)`` past
        ``decode(prompt_ids)``, special tokens left out), cut before the first stop string.
    :ivar stop_reason: ``"eos"``, ``"stop"`` (a stop string), ``"max_new_tokens"`` or
        ``"context"`` (the model's context length was reached).
    """

    prompt_ids: list[int]
    new_ids: list[int] = field(default_factory=list)
    text: str = ""
    stop_reason: str = "max_new_tokens"


class PromptTooLongError(CodexError):
    """A prompt leaves no room for a new token in the model's context. ``index`` is the
    prompt's position in the list given, so that a caller can name the sample."""

    def __init__(self, index: int, tokens: int, context: int) -> None:
        super().__init__(f"prompt {index} has {tokens} tokens, which leaves no room in the model's context of "
                         f"{context}", hint="shorten the prompt or use a model with a longer context")
        self.index, self.tokens, self.context = index, tokens, context


def encode_prompts(tokenizer: Tokenizer, prompts: Sequence[str], context: int | None) -> list[list[int]]:
    """The ids of each prompt (:func:`~codex_models.generation.sampling.encode_prompt`);
    a prompt of ``context`` tokens or more is a :class:`PromptTooLongError`."""
    rows = [encode_prompt(tokenizer, prompt) for prompt in prompts]
    _check_lengths(rows, context)
    return rows


def _check_lengths(rows: Sequence[Sequence[int]], context: int | None) -> None:
    if context is None:
        return
    for index, row in enumerate(rows):
        if len(row) >= context:
            raise PromptTooLongError(index, len(row), context)


def generate_batch(
    model: Any,
    tokenizer: Tokenizer,
    prompts: Sequence[str] | Sequence[Sequence[int]],
    *,
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    stop: Sequence[str] = (),
    seed: int = 0,
    generator: torch.Generator | None = None,
    stop_at_eos: bool = True,
    context: int | None = None,
) -> list[BatchSample]:
    """Continue every prompt (a string, or the ids of one) with ``model`` in one batch;
    returns a :class:`BatchSample` per prompt, in order.

    The draws come from ``generator`` when given (several batches of one request share
    one, so that equal prompts in different batches get different samples), else from a
    ``torch.Generator`` on the model's device seeded with ``seed``; the global RNG is left
    alone. The same prompts, settings and seed give the same texts on the same machine.
    The model is put in eval mode for the call and its previous mode restored after.
    ``context`` caps the tokens a row may reach (default: the model's context length).
    """
    import torch

    check_sampling(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p)
    model_context = context_length(getattr(model, "config", None))
    context = model_context if context is None or model_context is None else min(context, model_context)
    rows = [encode_prompt(tokenizer, p) if isinstance(p, str) else [int(i) for i in p] for p in prompts]
    _check_lengths(rows, context)
    samples = [BatchSample(prompt_ids=row) for row in rows]
    if not rows or max_new_tokens == 0:
        return samples
    device = model_device(model)
    if generator is None:
        generator = torch.Generator(device=device).manual_seed(seed)
    stepper = _Stepper(model, tokenizer, samples, context, stop_ids=eos_ids(model, tokenizer) if stop_at_eos else set(),
                       stops=[s for s in stop if s], max_new_tokens=max_new_tokens)
    was_training = bool(getattr(model, "training", False))
    model.eval()
    try:
        with torch.inference_mode():
            inputs, mask, positions = _left_padded(rows, _pad_id(tokenizer), device)
            cache: Any = None
            extra = {"logits_to_keep": 1} if forward_accepts(model, "logits_to_keep") else {}
            with_positions = forward_accepts(model, "position_ids")
            alive = list(range(len(rows)))  # the batch's rows, as indices into samples
            for step in range(max_new_tokens):
                out = model(input_ids=inputs, attention_mask=mask, use_cache=True, **{stepper.cache_name: cache},
                            **({"position_ids": positions} if with_positions else {}), **extra)
                cache, extra = getattr(out, stepper.cache_name), {}
                logits = out.logits[:, -1]
                if temperature == 0:
                    next_ids = torch.argmax(vocab_logits(logits, stepper.vocab_size), dim=-1)
                else:
                    probs = torch.softmax(filter_logits(logits, stepper.vocab_size, temperature, top_k, top_p), dim=-1)
                    next_ids = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
                keep = stepper.advance(alive, next_ids.tolist(), last_step=step + 1 == max_new_tokens)
                if not keep:
                    break
                if len(keep) < len(alive) and _prunable(cache):
                    index = torch.tensor(keep, dtype=torch.long, device=device)
                    cache = _select(cache, index)
                    alive = [alive[j] for j in keep]
                    next_ids, mask, positions = next_ids[index], mask[index], positions[index]
                inputs = next_ids.unsqueeze(-1)
                mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
                positions = positions[:, -1:] + 1
    finally:
        model.train(was_training)
    stepper.finish()
    return samples


class _Stepper:
    """The per-row bookkeeping of :func:`generate_batch`: which rows are done, their text
    (streamed, checked for stop strings), and why each stopped."""

    def __init__(self, model: Any, tokenizer: Tokenizer, samples: list[BatchSample], context: int | None, *,
                 stop_ids: set[int], stops: list[str], max_new_tokens: int) -> None:
        self.samples, self.context, self.stop_ids, self.stops = samples, context, stop_ids, stops
        self.vocab_size = int(tokenizer.vocab_size)
        self.cache_name = cache_argument(model)
        self.decoders = [StreamDecoder(tokenizer, s.prompt_ids) for s in samples]
        self.done = [False] * len(samples)
        self.max_new_tokens = max_new_tokens

    def advance(self, alive: list[int], next_ids: list[int], *, last_step: bool) -> list[int]:
        """Add each live row's next id; return the batch positions still growing."""
        keep = []
        for position, (row, token) in enumerate(zip(alive, next_ids, strict=True)):
            if self.done[row]:
                continue  # a finished row kept in a cache that cannot drop rows
            sample = self.samples[row]
            if token in self.stop_ids:
                sample.stop_reason, self.done[row] = "eos", True
                continue
            sample.new_ids.append(token)
            if self._add_text(row, self.decoders[row].push(token)):
                continue
            if last_step:
                self.done[row] = True
            elif self.context is not None and len(sample.prompt_ids) + len(sample.new_ids) >= self.context:
                sample.stop_reason, self.done[row] = "context", True
            else:
                keep.append(position)
        return keep

    def _add_text(self, row: int, piece: str) -> bool:
        """Append streamed text to a row; True (and the row done) when it completes a stop string."""
        if not piece:
            return False
        sample = self.samples[row]
        before = len(sample.text)
        sample.text += piece
        cut = min((i for i in (sample.text.find(s, max(0, before - len(s) + 1)) for s in self.stops) if i >= 0),
                  default=-1)
        if cut < 0:
            return False
        sample.text, sample.stop_reason, self.done[row] = sample.text[:cut], "stop", True
        return True

    def finish(self) -> None:
        """The text each decoder still holds, for rows not cut at a stop string."""
        for row, sample in enumerate(self.samples):
            if sample.stop_reason != "stop":
                self._add_text(row, self.decoders[row].finish())


def _left_padded(rows: list[list[int]], pad_id: int, device: Any) -> tuple[Any, Any, Any]:
    """``(input_ids, attention_mask, position_ids)`` of the rows padded on the left."""
    import torch

    width = max(len(row) for row in rows)
    inputs = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        inputs[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row):] = 1
    positions = (mask.cumsum(dim=-1) - 1).clamp(min=0)
    return inputs.to(device), mask.to(device), positions.to(device)


def _pad_id(tokenizer: Tokenizer) -> int:
    roles = tokenizer.special_tokens
    return int(roles.get("pad", roles.get("eos", 0)))


def _prunable(cache: Any) -> bool:
    return hasattr(cache, "batch_select_indices") or (
        isinstance(cache, (tuple, list)) and all(isinstance(layer, (tuple, list)) for layer in cache))


def _select(cache: Any, index: Any) -> Any:
    """The cache with only the batch rows in ``index``."""
    if hasattr(cache, "batch_select_indices"):
        cache.batch_select_indices(index)
        return cache
    return type(cache)(tuple(t.index_select(0, index) for t in layer) for layer in cache)
