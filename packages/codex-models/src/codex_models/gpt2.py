"""The ``gpt2`` model builder: a Hugging Face GPT-2 built from a config (no download).

torch and transformers are imported inside :func:`build_gpt2`, so importing this module
stays cheap too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_models.lora import with_lora
from codex_models.params import GPT2Params
from codex_models.placement import place, with_tokenizer

if TYPE_CHECKING:  # pragma: no cover
    from peft import PeftModel
    from transformers import GPT2LMHeadModel

    from codex_core.context import BuildContext


def build_gpt2(params: GPT2Params | None = None, context: BuildContext | None = None) -> GPT2LMHeadModel | PeftModel:
    """A freshly initialised ``GPT2LMHeadModel`` (weights drawn from torch's global RNG),
    shaped by ``params.preset`` and any architecture fields set on top of it, in
    ``params.dtype`` on ``params.device`` (see :mod:`codex_models.placement`). Build under
    ``with torch.device("meta"):`` to get the shapes without allocating the weights.

    It follows the codex model contract: ``model(input_ids=..., attention_mask=...,
    labels=...)`` returns an object with ``.loss`` (mean next-token cross-entropy; the
    model shifts the labels itself, ``-100`` is ignored) and ``.logits`` of shape
    ``(batch, seq, vocab_size)``. Pass the arguments by keyword: the Hugging Face
    ``forward`` has other parameters between ``input_ids`` and ``attention_mask``.
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    params = with_tokenizer(params if params is not None else GPT2Params(), context)
    config = GPT2Config(
        **params.architecture(),
        resid_pdrop=params.dropout,
        embd_pdrop=params.dropout,
        attn_pdrop=params.dropout,
        pad_token_id=params.pad_token_id,
        bos_token_id=params.bos_token_id,
        eos_token_id=params.eos_token_id,
    )
    return with_lora(place(GPT2LMHeadModel(config), params.dtype, params.device), params.lora, "gpt2")
