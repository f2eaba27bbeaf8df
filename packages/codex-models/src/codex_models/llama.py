"""The ``llama`` model builder: a Hugging Face Llama built from a config (no download).

torch and transformers are imported inside :func:`build_llama`, so importing this module
stays cheap too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_models.lora import with_lora
from codex_models.params import LlamaParams
from codex_models.placement import place, with_tokenizer

if TYPE_CHECKING:  # pragma: no cover
    from peft import PeftModel
    from transformers import LlamaForCausalLM

    from codex_core.context import BuildContext


def build_llama(params: LlamaParams | None = None, context: BuildContext | None = None) -> LlamaForCausalLM | PeftModel:
    """A freshly initialised ``LlamaForCausalLM`` (weights drawn from torch's global RNG),
    shaped by ``params.preset`` and any architecture fields set on top of it, in
    ``params.dtype`` on ``params.device`` (see :mod:`codex_models.placement`). Build under
    ``with torch.device("meta"):`` to get the shapes without allocating the weights.

    The same contract as ``gpt2``: ``model(input_ids=..., attention_mask=..., labels=...)``
    gives ``.loss`` (labels shifted by the model, ``-100`` ignored) and ``.logits`` of shape
    ``(batch, seq, vocab_size)``; pass the arguments by keyword.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    params = with_tokenizer(params if params is not None else LlamaParams(), context)
    config = LlamaConfig(
        **params.architecture(),
        attention_dropout=params.attention_dropout,
        pad_token_id=params.pad_token_id,
        bos_token_id=params.bos_token_id,
        eos_token_id=params.eos_token_id,
    )
    return with_lora(place(LlamaForCausalLM(config), params.dtype, params.device), params.lora, "llama")
