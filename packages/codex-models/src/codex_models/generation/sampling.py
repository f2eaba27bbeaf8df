"""Sampling text from a causal language model, streamed as it is produced.

:func:`generate` runs its own loop over the model's forward with the KV cache: temperature
(0 is greedy), top-k then top-p (nucleus) filtering, a dedicated ``torch.Generator`` (the
global RNG is left alone; the same seed gives the same text on the same machine), and
stops at the tokenizer's eos, after ``max_new_tokens``, or at the model's context length.

:class:`codex_models.generation.stream.StreamDecoder` turns the ids into text as they come,
emitting only text that is final, so that what was streamed joins to exactly the decoded
continuation.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codex_core.errors import CodexError
from codex_models.generation.stream import StreamDecoder
from codex_models.models.hf_config import context_length

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from codex_core.protocols import Tokenizer

__all__ = ["GenerationResult", "cache_argument", "check_sampling", "encode_prompt", "eos_ids", "filter_logits",
           "forward_accepts", "generate", "model_device", "vocab_logits"]

log = logging.getLogger("codex")


@dataclass
class GenerationResult:
    """The outcome of :func:`generate`.

    :ivar prompt_ids: the ids the model was given (after any left truncation; an empty
        prompt is the tokenizer's bos, else eos, id).
    :ivar new_ids: the sampled ids, without the eos that stopped the generation.
    :ivar text: the continuation: ``decode(prompt_ids + new_ids)`` past ``decode(prompt_ids)``
        (special tokens left out). For byte-level BPE this is ``decode(new_ids)``.
    :ivar stop_reason: ``"eos"``, ``"max_new_tokens"`` or ``"context"`` (the model's context
        length was reached).
    :ivar seed: the seed of the sampling generator (drawn at random when none was given), so
        that any result can be reproduced.
    :ivar truncated: prompt tokens dropped from the left to fit the context.
    """

    prompt_ids: list[int]
    new_ids: list[int]
    text: str
    stop_reason: str
    seed: int
    truncated: int = 0


def check_sampling(*, max_new_tokens: int, temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise :class:`CodexError` for sampling settings out of range."""
    if max_new_tokens < 0:
        raise CodexError(f"max_new_tokens must be 0 or more, got {max_new_tokens}")
    if not temperature >= 0:  # also catches nan
        raise CodexError(f"temperature must be 0 (greedy) or more, got {temperature}")
    if top_k is not None and top_k < 1:
        raise CodexError(f"top_k must be 1 or more, got {top_k}", hint="leave it out for no top-k filtering")
    if top_p is not None and not 0 < top_p <= 1:
        raise CodexError(f"top_p must be in (0, 1], got {top_p}", hint="leave it out for no nucleus filtering")


def generate(
    model: Any,
    tokenizer: Tokenizer,
    prompt: str,
    *,
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    stop_at_eos: bool = True,
    on_text: Callable[[str], None] | None = None,
    heal_whitespace: bool = False,
) -> GenerationResult:
    """Continue ``prompt`` with ``model`` (a causal LM: ``model(input_ids=..., cache=...,
    use_cache=True)`` returns ``.logits`` and ``.cache``; ``past_key_values`` in older
    transformers and in models whose forward names it so).

    The prompt is encoded without added special tokens; an empty prompt starts from the
    tokenizer's bos id (else its eos id: the separator before every document in a token
    cache). A prompt longer than the context is cut from the left, with a warning, so that
    at least one token can follow; prompt and continuation together never exceed the context.

    Each step: temperature 0 takes the most likely token; otherwise the logits are divided
    by ``temperature``, all but the ``top_k`` most likely tokens are dropped, then all but the
    smallest set whose probabilities add up to ``top_p``, and a token is drawn with a
    ``torch.Generator`` seeded from ``seed`` (on the cpu, so the global RNG is untouched).
    Ids past the tokenizer's vocabulary are never drawn. ``on_text`` receives the text as
    it becomes final (see :class:`StreamDecoder`); the chunks join to ``result.text``.

    ``heal_whitespace``: when the prompt's last token is whitespace only (``"def "`` ends in
    a lone ``" "`` with byte-level BPE, which in training text is followed by more space, not
    by a name), that token is taken back and the first sampled token must start with its
    text (``" name"``); ``result.text`` is still what follows the prompt as given.
    """
    import torch

    check_sampling(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p)
    prompt_ids = encode_prompt(tokenizer, prompt)
    context = context_length(getattr(model, "config", None))
    truncated = 0
    if context is not None and len(prompt_ids) > context - 1:
        truncated = len(prompt_ids) - (context - 1)
        log.warning("the prompt has %d tokens, more than the model's context of %d allows; "
                    "the first %d are dropped", len(prompt_ids), context, truncated)
        prompt_ids = prompt_ids[truncated:]
    healed, first_ids = "", None
    if heal_whitespace and len(prompt_ids) > 1:
        healed, first_ids = _heal(tokenizer, prompt_ids[-1])
        if first_ids:
            prompt_ids = prompt_ids[:-1]
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little") >> 1
    generator = torch.Generator(device="cpu").manual_seed(seed)
    stop_ids = eos_ids(model, tokenizer) if stop_at_eos else set()
    vocab_size = int(tokenizer.vocab_size)
    stream = StreamDecoder(tokenizer, prompt_ids)
    chunks: list[str] = []

    skip = len(healed) if first_ids else 0  # the healed prompt text comes back first: not new text

    def emit(text: str) -> None:
        nonlocal skip
        if skip and text:
            cut = min(skip, len(text))
            text, skip = text[cut:], skip - cut
        if text:
            chunks.append(text)
            if on_text is not None:
                on_text(text)

    device = model_device(model)
    cache_name = cache_argument(model)
    new_ids: list[int] = []
    stop_reason = "max_new_tokens"
    model.eval()
    with torch.inference_mode():
        inputs = torch.tensor([prompt_ids], dtype=torch.long, device=device)
        cache = None
        for _ in range(max_new_tokens):
            if context is not None and len(prompt_ids) + len(new_ids) >= context:
                stop_reason = "context"
                break
            out = model(input_ids=inputs, **{cache_name: cache}, use_cache=True)
            cache = getattr(out, cache_name)
            logits = out.logits[0, -1]
            if first_ids and not new_ids:
                keep = torch.full_like(logits, float("-inf"))
                keep[first_ids] = 0.0
                logits = logits + keep
            next_id = _next_token(logits, vocab_size, temperature, top_k, top_p, generator)
            if next_id in stop_ids:
                stop_reason = "eos"
                break
            new_ids.append(next_id)
            emit(stream.push(next_id))
            inputs = torch.tensor([[next_id]], dtype=torch.long, device=device)
    emit(stream.finish())
    return GenerationResult(prompt_ids=prompt_ids, new_ids=new_ids, text="".join(chunks), stop_reason=stop_reason,
                            seed=seed, truncated=truncated)


def _next_token(logits: torch.Tensor, vocab_size: int, temperature: float, top_k: int | None,
                top_p: float | None, generator: torch.Generator) -> int:
    """The next id from one position's logits (see :func:`generate`)."""
    import torch

    if temperature == 0:
        return int(torch.argmax(vocab_logits(logits, vocab_size)))
    probs = torch.softmax(filter_logits(logits, vocab_size, temperature, top_k, top_p), dim=-1).cpu()
    return int(torch.multinomial(probs, 1, generator=generator))


def vocab_logits(logits: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """``logits`` (``(..., vocab)``) in float32 without the columns past the tokenizer's ids
    (a model's embedding may be padded past them), so those ids are never drawn."""
    logits = logits.float()
    if logits.shape[-1] > vocab_size:
        logits = logits[..., :vocab_size]
    return logits


def filter_logits(logits: torch.Tensor, vocab_size: int, temperature: float, top_k: int | None,
                  top_p: float | None) -> torch.Tensor:
    """The logits sampling draws from (``temperature > 0``), row by row along the last
    dimension: :func:`vocab_logits`, divided by ``temperature``, all but the ``top_k`` most
    likely set to ``-inf``, then all but the smallest set whose probabilities add up to
    ``top_p`` (the most likely token always stays)."""
    import torch

    logits = vocab_logits(logits, vocab_size) / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # the mass of the more likely tokens
        drop = before >= top_p
        drop[..., 0] = False  # the most likely token always stays
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), float("-inf"))
    return logits


def _heal(tokenizer: Tokenizer, last_id: int) -> tuple[str, list[int]]:
    """The text of ``last_id`` and the ids whose text starts with it, when that text is
    whitespace only (else ``("", [])``)."""
    text = tokenizer.decode([last_id])
    if not text or text.strip():
        return "", []
    return text, [i for i in range(int(tokenizer.vocab_size)) if tokenizer.decode([i]).startswith(text)]


def encode_prompt(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """The ids a prompt starts generation from: its encoding without added special tokens,
    or for an empty prompt the tokenizer's bos id (else its eos id)."""
    if prompt:
        if "add_special_tokens" in inspect.signature(tokenizer.encode).parameters:
            return list(tokenizer.encode(prompt, add_special_tokens=False).ids)  # type: ignore[call-arg]
        return list(tokenizer.encode(prompt).ids)
    roles = tokenizer.special_tokens
    start = roles.get("bos", roles.get("eos"))
    if start is None:
        raise CodexError("the prompt is empty and the tokenizer has no bos or eos token to start from",
                         hint="give a prompt")
    return [int(start)]


def eos_ids(model: Any, tokenizer: Tokenizer) -> set[int]:
    """The tokenizer's eos id and the model config's (an int or a list), if any."""
    ids = set()
    if "eos" in tokenizer.special_tokens:
        ids.add(int(tokenizer.special_tokens["eos"]))
    configured = getattr(getattr(model, "config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif isinstance(configured, (list, tuple)):
        ids.update(int(i) for i in configured)
    return ids


def forward_accepts(model: Any, name: str) -> bool:
    """Whether the model's forward (the base model's, under a PEFT wrapper) takes ``name``."""
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        return name in inspect.signature(target.forward).parameters
    except (AttributeError, TypeError, ValueError):
        return False


def cache_argument(model: Any) -> str:
    """The name of the KV cache in the model's forward and output: ``cache`` in recent
    transformers, ``past_key_values`` before (and in models that take only that)."""
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        parameters = inspect.signature(target.forward).parameters
    except (AttributeError, TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in parameters else "past_key_values"


def model_device(model: Any) -> torch.device:
    """The device of the model's first parameter (cpu for a model without any)."""
    import torch

    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")
