"""``HFLanguageModel``: a torch causal LM and a codex tokenizer, as the
:class:`codex_core.protocols.LanguageModel` evaluation tasks talk to.

* :meth:`~HFLanguageModel.rolling_nll` scores token sequences in strided windows (the
  definition is :func:`rolling_windows`'s), ``batch_size`` windows a forward.
* :meth:`~HFLanguageModel.loglikelihood` follows lm-evaluation-harness's ``HFLM``, so that
  the ``multiple-choice`` task and lm-eval agree: the context's trailing whitespace moves to
  the continuation; the continuation's ids are ``encode(context + continuation)`` past
  ``len(encode(context))``; an empty context is the eos id (the document separator the
  model was trained with); the input is cut from the left to the context length.
* :meth:`~HFLanguageModel.generate` samples ``n`` continuations per prompt through
  :func:`codex_models.generation.batched.generate_batch`.

Every call runs under ``torch.inference_mode()`` with the model in eval mode (its previous
mode restored after) and never touches the global RNG. torch is imported inside the methods.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core.errors import CodexError
from codex_models.models.hf_config import context_length as _model_context

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from codex_core.protocols import Tokenizer

__all__ = ["HFLanguageModel", "rolling_windows"]


def rolling_windows(length: int, max_length: int, stride: int) -> list[tuple[int, int, int]]:
    """The windows that score a sequence of ``length`` tokens whose first token is context
    only: ``(begin, end, first)`` means the window holds tokens ``[begin, end)`` and scores
    tokens ``[first, end)``, each predicted from the tokens before it in the window.

    Windows of ``max_length`` tokens start every ``stride`` tokens (the last ends at the
    sequence's end), and each scores only the tokens no earlier window scored, so every
    token but the first is predicted exactly once, and after the first window with at least
    ``max_length - stride`` tokens of context. Needs ``1 <= stride < max_length``.
    """
    if not 1 <= stride < max_length:
        raise CodexError(f"stride must be at least 1 and below max_length ({max_length}), got {stride}",
                         hint="a window keeps max_length - stride tokens of context; the default is max_length // 2")
    windows: list[tuple[int, int, int]] = []
    begin, scored = 0, 1  # token 0 (the separator) is never scored
    while scored < length:
        end = min(begin + max_length, length)
        windows.append((begin, end, scored))
        scored, begin = end, begin + stride
    return windows


class HFLanguageModel:
    """A causal LM (``model(input_ids=...).logits``; a ``transformers`` model) with its
    codex tokenizer. ``batch_size`` is the number of rows a forward takes (windows,
    requests or samples). ``context_length`` caps the context the tasks see below the
    model's own: a model trained on windows of ``trainer.seq_len`` tokens never learned the
    positions after them, so ``codex eval --run`` caps it there."""

    def __init__(self, model: Any, tokenizer: Tokenizer, *, path: str | Path | None = None,
                 batch_size: int = 8, context_length: int | None = None) -> None:
        context = _model_context(getattr(model, "config", None))
        if context is None:
            raise CodexError(f"the model ({type(model).__name__}) does not say its context length",
                             hint="its config needs max_position_embeddings or n_positions")
        if context_length is not None:
            if context_length < 2:
                raise CodexError(f"context length must be 2 or more, got {context_length}")
            context = min(context, context_length)
        if batch_size < 1:
            raise CodexError(f"batch_size must be 1 or more, got {batch_size}")
        self.model = model
        self._tokenizer = tokenizer
        self._context = context
        self._path = Path(path) if path is not None else None
        self.batch_size = batch_size
        self._eos = _eos_of(model, tokenizer)

    @classmethod
    def from_dir(cls, path: str | Path, *, device: str = "auto", dtype: str = "fp32",
                 batch_size: int = 8, context_length: int | None = None) -> HFLanguageModel:
        """The model and tokenizer of a model directory (a checkpoint or an export), loaded
        with :func:`codex_models.models.model_dir.load_model_dir`."""
        from codex_models.models.model_dir import load_model_dir

        model, tokenizer = load_model_dir(path, dtype=dtype, device=device)
        return cls(model, tokenizer, path=path, batch_size=batch_size, context_length=context_length)

    # -- properties -----------------------------------------------------------------------
    @property
    def tokenizer(self) -> Tokenizer:
        return self._tokenizer

    @property
    def context_length(self) -> int:
        return self._context

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def eos_id(self) -> int:
        """The tokenizer's eos id (the document separator of the training data)."""
        if self._eos is None:
            raise CodexError("the tokenizer has no eos token (the document separator)",
                             hint="use a tokenizer with an eos special token")
        return self._eos

    @property
    def device(self) -> torch.device:
        from codex_models.generation.sampling import model_device

        return model_device(self.model)

    def __repr__(self) -> str:
        return f"HFLanguageModel({type(self.model).__name__}, path={self._path}, batch_size={self.batch_size})"

    # -- scoring --------------------------------------------------------------------------
    def rolling_nll(self, sequences: Sequence[Sequence[int]], *, max_length: int,
                    stride: int) -> list[tuple[float, int]]:
        """Per sequence, ``(total nll in nats, tokens scored)`` over the windows of
        :func:`rolling_windows` (the first token is context only). ``max_length`` is at most
        the context length. The nll of each token is ``-log_softmax`` of the logits (in
        float32) at its target; the sums are in float64."""
        if not 2 <= max_length <= self._context:
            raise CodexError(f"max_length must be between 2 and the model's context ({self._context}), "
                             f"got {max_length}")
        jobs = [(i, *window) for i, seq in enumerate(sequences) for window in rolling_windows(len(seq), max_length,
                                                                                              stride)]
        # Long windows first, and among equally long ones those that score fewer of their
        # tokens together: full batches without padding, and fewer logits to compute.
        jobs.sort(key=lambda j: (-(j[2] - j[1]), j[3] - j[1], j[0]))
        totals = [0.0] * len(sequences)
        counts = [0] * len(sequences)
        with self._inference():
            for start in range(0, len(jobs), self.batch_size):
                batch = jobs[start:start + self.batch_size]
                rows = [(list(sequences[i][begin:end]), first - begin) for i, begin, end, first in batch]
                for (i, *_), (nll, count) in zip(batch, self._score_rows(rows), strict=True):
                    totals[i] += nll
                    counts[i] += count
        return list(zip(totals, counts, strict=True))

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        """Per ``(context, continuation)``, the log-probability of the continuation's tokens
        after the context's and whether greedy decoding gives exactly them (lm-eval's
        ``HFLM.loglikelihood``; see the module docstring). An empty continuation is
        ``(0.0, True)``."""
        import torch

        encoded = [self._encode_pair(context, continuation) for context, continuation in requests]
        order = sorted(range(len(encoded)), key=lambda k: -len(encoded[k][0]) - len(encoded[k][1]))
        results: list[tuple[float, bool]] = [(0.0, True)] * len(encoded)
        todo = []
        for k in order:
            context_ids, continuation_ids = encoded[k]
            if not continuation_ids:
                continue
            if len(continuation_ids) > self._context:
                raise CodexError(f"request {k}: the continuation has {len(continuation_ids)} tokens, more than "
                                 f"the model's context of {self._context}")
            window = (context_ids + continuation_ids)[-(self._context + 1):][:-1]
            todo.append((k, window, continuation_ids))
        with self._inference():
            for start in range(0, len(todo), self.batch_size):
                batch = todo[start:start + self.batch_size]
                width = max(len(window) for _, window, _ in batch)
                logits, _ = self._forward([window for _, window, _ in batch],
                                          keep=width - min(len(w) - len(c) for _, w, c in batch))
                for row, (k, window, continuation_ids) in enumerate(batch):
                    end = logits.shape[1] - (width - len(window))
                    scored = torch.log_softmax(logits[row, end - len(continuation_ids):end].float(), dim=-1)
                    target = torch.tensor(continuation_ids, dtype=torch.long, device=scored.device)
                    logprob = scored.gather(-1, target.unsqueeze(-1)).squeeze(-1).double().sum()
                    greedy = bool(torch.equal(scored.argmax(dim=-1), target))
                    results[k] = (float(logprob), greedy)
        return results

    # -- generation -----------------------------------------------------------------------
    def generate(self, prompts: Sequence[str], *, n: int = 1, max_new_tokens: int = 128, temperature: float = 0.0,
                 top_p: float | None = None, top_k: int | None = None, stop: Sequence[str] = (),
                 seed: int = 0) -> list[list[str]]:
        """``n`` continuations per prompt, each prompt repeated ``n`` times in batches of
        ``batch_size``, drawn from one generator seeded with ``seed`` (the same seed and
        batch size give the same texts). A prompt that fills the context is a
        :class:`~codex_models.generation.batched.PromptTooLongError` naming its index."""
        import torch

        from codex_models.generation.batched import encode_prompts, generate_batch
        from codex_models.generation.sampling import check_sampling

        if n < 1:
            raise CodexError(f"n must be 1 or more, got {n}")
        check_sampling(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p)
        rows = [ids for ids in encode_prompts(self._tokenizer, prompts, self._context) for _ in range(n)]
        generator = torch.Generator(device=self.device).manual_seed(seed)
        texts: list[str] = []
        for start in range(0, len(rows), self.batch_size):
            samples = generate_batch(self.model, self._tokenizer, rows[start:start + self.batch_size],
                                     max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                                     top_p=top_p, stop=stop, generator=generator, context=self._context)
            texts += [sample.text for sample in samples]
        return [texts[i * n:(i + 1) * n] for i in range(len(prompts))]

    # -- internals ------------------------------------------------------------------------
    @contextmanager
    def _inference(self) -> Iterator[None]:
        import torch

        was_training = bool(getattr(self.model, "training", False))
        self.model.eval()
        try:
            with torch.inference_mode():
                yield
        finally:
            self.model.train(was_training)

    def _forward(self, rows: list[list[int]], *, keep: int) -> tuple[Any, int]:
        """The logits of right-padded ``rows`` for at least the last ``keep`` positions of
        the padded width (all when the model cannot keep fewer), and that width. A causal
        model's logits at a row's real tokens do not depend on the padding after them."""
        import torch

        from codex_models.generation.sampling import forward_accepts

        width = max(len(row) for row in rows)
        inputs = torch.full((len(rows), width), self._pad_id(), dtype=torch.long)
        for r, row in enumerate(rows):
            inputs[r, :len(row)] = torch.tensor(row, dtype=torch.long)
        extra = {"logits_to_keep": keep} if keep < width and forward_accepts(self.model, "logits_to_keep") else {}
        out = self.model(input_ids=inputs.to(self.device), use_cache=False, **extra)
        return out.logits, width

    def _score_rows(self, rows: list[tuple[list[int], int]]) -> list[tuple[float, int]]:
        """Per ``(tokens, first)``, the summed nll (float64) of ``tokens[first:]`` given
        what precedes each in the row, and how many were scored."""
        import torch

        width = max(len(tokens) for tokens, _ in rows)
        keep = max(width - first + 1 for _, first in rows)
        logits, _ = self._forward([tokens for tokens, _ in rows], keep=keep)
        offset = width - logits.shape[1]  # logits[:, j] are for position offset + j
        targets = torch.full((len(rows), logits.shape[1]), -100, dtype=torch.long)
        for r, (tokens, first) in enumerate(rows):
            # position p's logits predict token p + 1: targets[p - offset] = tokens[p + 1]
            targets[r, first - 1 - offset:len(tokens) - 1 - offset] = torch.tensor(tokens[first:], dtype=torch.long)
        targets = targets.to(logits.device)
        out = []
        for r in range(len(rows)):  # a row at a time: one row's float32 log-softmax in memory, not the batch's
            nll = torch.nn.functional.cross_entropy(logits[r].float(), targets[r], ignore_index=-100, reduction="none")
            out.append((float(nll.double().sum()), int((targets[r] != -100).sum())))
        return out

    def _pad_id(self) -> int:
        roles = self._tokenizer.special_tokens
        return int(roles.get("pad", roles.get("eos", 0)))

    def _encode(self, text: str, *, special: bool = True) -> list[int]:
        """``encode(text).ids``; with ``special=False`` without added special tokens (when
        the tokenizer's ``encode`` takes ``add_special_tokens``)."""
        if not special and "add_special_tokens" in inspect.signature(self._tokenizer.encode).parameters:
            return list(self._tokenizer.encode(text, add_special_tokens=False).ids)  # type: ignore[call-arg]
        return list(self._tokenizer.encode(text).ids)

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        if not context:  # lm-eval: the continuation without special tokens, after the prefix token
            continuation_ids = self._encode(continuation, special=False)
            if continuation_ids and continuation_ids[0] == self.eos_id:
                return continuation_ids[:1], continuation_ids[1:]
            return [self.eos_id], continuation_ids
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        whole = self._encode(context + continuation)
        context_ids = self._encode(context)
        return context_ids, whole[len(context_ids):]


def _eos_of(model: Any, tokenizer: Tokenizer) -> int | None:
    eos = tokenizer.special_tokens.get("eos")
    if eos is not None:
        return int(eos)
    configured = getattr(getattr(model, "config", None), "eos_token_id", None)
    if isinstance(configured, (list, tuple)):
        configured = configured[0] if configured else None
    return int(configured) if isinstance(configured, int) else None
