"""The ``llama`` family: a Hugging Face Llama built from a config (no download).

Everything about the family is here: its presets, its params model, its parameter count
(without building the model), its default LoRA targets and the builder. torch and
transformers are imported inside :func:`build_llama`, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, ValidationInfo, field_validator

from codex_models.models.lora import with_lora
from codex_models.models.params import CHAR_VOCAB_SIZE, PresetParams
from codex_models.models.placement import place, with_tokenizer

if TYPE_CHECKING:  # pragma: no cover
    from peft import PeftModel
    from transformers import LlamaForCausalLM

    from codex_core.context import BuildContext

FAMILY = "llama"

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": CHAR_VOCAB_SIZE, "hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": False,
    },
    "small": {
        "vocab_size": CHAR_VOCAB_SIZE, "hidden_size": 384, "intermediate_size": 1024, "num_hidden_layers": 8,
        "num_attention_heads": 6, "num_key_value_heads": 2, "max_position_embeddings": 512,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": False,
    },
    "tinyllama-1.1b": {
        "vocab_size": 32000, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
        "num_attention_heads": 32, "num_key_value_heads": 4, "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
    },
}
"""``{preset: architecture fields}`` (the fields of :class:`LlamaParams` and ``LlamaConfig``)."""

LORA_TARGETS = ["q_proj", "v_proj"]
"""Default LoRA ``target_modules``: the query and value projections."""


def param_count(config: Mapping[str, Any]) -> int:
    """Parameters of a Llama with the (resolved) architecture ``config``: token embeddings,
    per block q/k/v/o (k and v sized by the key-value heads), the gated MLP (gate, up, down;
    no biases) and two RMSNorms, a final RMSNorm, and an lm_head of its own unless
    ``tie_word_embeddings``."""
    c = config
    h, heads, kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    head_dim = h // heads
    attention = h * heads * head_dim + 2 * h * kv * head_dim + heads * head_dim * h
    block = attention + 3 * h * c["intermediate_size"] + 2 * h
    lm_head = 0 if c.get("tie_word_embeddings") else c["vocab_size"] * h
    return int(c["vocab_size"] * h + c["num_hidden_layers"] * block + h + lm_head)


class LlamaParams(PresetParams):
    """Params of the ``llama`` model builder (a Llama built from config, never downloaded).

    Presets: ``tiny`` (the default, vocab 104), ``small`` and ``tinyllama-1.1b`` (the shape
    of TinyLlama 1.1B: grouped-query attention with 4 key-value heads).
    """

    family: ClassVar[str] = "llama"
    presets: ClassVar[dict[str, dict[str, Any]]] = PRESETS

    vocab_size: int | None = Field(
        None, ge=1, description="token ids the model embeds; match the tokenizer's vocab_size (tiny: 104)"
    )
    max_position_embeddings: int | None = Field(None, ge=1, description="longest sequence (context length)")
    num_hidden_layers: int | None = Field(None, ge=1, description="decoder blocks")
    num_attention_heads: int | None = Field(None, ge=1, description="query heads; must divide hidden_size")
    num_key_value_heads: int | None = Field(
        None, ge=1, description="key-value heads (grouped-query attention); must divide num_attention_heads"
    )
    hidden_size: int | None = Field(None, ge=1, description="width of the embeddings and hidden states")
    intermediate_size: int | None = Field(None, ge=1, description="width of the gated MLP")
    rms_norm_eps: float | None = Field(None, gt=0.0, description="epsilon of the RMSNorms")
    rope_theta: float | None = Field(None, gt=0.0, description="base of the rotary position embeddings")
    tie_word_embeddings: bool | None = Field(None, description="share the lm_head with the token embeddings")
    attention_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout of the attention weights")
    pad_token_id: int | None = Field(None, ge=0, description="padding id (the char tokenizer uses 0)")
    bos_token_id: int | None = Field(None, ge=0, description="beginning-of-sequence id (the char tokenizer uses 1)")
    eos_token_id: int | None = Field(None, ge=0, description="end-of-sequence id (the char tokenizer uses 2)")

    @field_validator("num_key_value_heads")
    @classmethod
    def _divides_heads(cls, value: int, info: ValidationInfo) -> int:
        heads = info.data.get("num_attention_heads")
        if heads and heads % value:
            raise ValueError(f"must divide num_attention_heads ({heads})")
        return value

    @field_validator("hidden_size")
    @classmethod
    def _divisible_by_heads(cls, value: int, info: ValidationInfo) -> int:
        heads = info.data.get("num_attention_heads")
        if heads and value % heads:
            raise ValueError(f"must be a multiple of num_attention_heads ({heads})")
        return value


def build_llama(params: LlamaParams | None = None, context: BuildContext | None = None) -> LlamaForCausalLM | PeftModel:
    """A freshly initialised ``LlamaForCausalLM`` (weights drawn from torch's global RNG),
    shaped by ``params.preset`` and any architecture fields set on top of it, in
    ``params.dtype`` on ``params.device`` (see :mod:`codex_models.models.placement`). Build under
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
    return with_lora(place(LlamaForCausalLM(config), params.dtype, params.device), params.lora, FAMILY)
