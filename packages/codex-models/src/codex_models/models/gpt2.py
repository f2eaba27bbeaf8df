"""The ``gpt2`` family: a Hugging Face GPT-2 built from a config (no download).

Everything about the family is here: its presets, its params model, its parameter count
(without building the model), its default LoRA targets and the builder. torch and
transformers are imported inside :func:`build_gpt2`, so importing this module stays cheap.
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
    from transformers import GPT2LMHeadModel

    from codex_core.context import BuildContext

FAMILY = "gpt2"

PRESETS: dict[str, dict[str, Any]] = {
    # vocab_size is a fallback: inside a run the model takes the tokenizer's.
    "tiny": {"vocab_size": CHAR_VOCAB_SIZE, "n_positions": 256, "n_layer": 4, "n_head": 4, "n_embd": 128},
    "small": {"vocab_size": CHAR_VOCAB_SIZE, "n_positions": 512, "n_layer": 6, "n_head": 6, "n_embd": 384},
    "gpt2-124m": {"vocab_size": 50257, "n_positions": 1024, "n_layer": 12, "n_head": 12, "n_embd": 768},
}
"""``{preset: architecture fields}`` (the fields of :class:`GPT2Params` and ``GPT2Config``)."""

LORA_TARGETS = ["c_attn"]
"""Default LoRA ``target_modules``: the fused query/key/value projection."""


def param_count(config: Mapping[str, Any]) -> int:
    """Parameters of a GPT-2 with the (resolved) architecture ``config``: token and position
    embeddings, per block two LayerNorms, the fused qkv and output projections and the 4x MLP
    (all with biases), a final LayerNorm; the lm_head is tied to the token embeddings."""
    d = config["n_embd"]
    block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d)
    return int(config["vocab_size"] * d + config["n_positions"] * d + config["n_layer"] * block + 2 * d)


class GPT2Params(PresetParams):
    """Params of the ``gpt2`` model builder (a GPT-2 built from config, never downloaded).

    Presets: ``tiny`` (the default: vocab 104 for the char tokenizer, 2 layers, 2 heads,
    width 64, 256 positions), ``small`` and ``gpt2-124m`` (the shape of OpenAI's GPT-2).
    """

    family: ClassVar[str] = "gpt2"
    presets: ClassVar[dict[str, dict[str, Any]]] = PRESETS

    vocab_size: int | None = Field(
        None, ge=1, description="token ids the model embeds; match the tokenizer's vocab_size (tiny: 104)"
    )
    n_positions: int | None = Field(None, ge=1, description="longest sequence the model accepts (context length)")
    n_layer: int | None = Field(None, ge=1, description="transformer blocks")
    n_head: int | None = Field(None, ge=1, description="attention heads per block; must divide n_embd")
    n_embd: int | None = Field(None, ge=1, description="width of the embeddings and hidden states")
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="dropout of the embeddings, attention and residuals"
    )
    pad_token_id: int | None = Field(
        None, ge=0, description="padding id, for generation (the char tokenizer uses 0)"
    )
    bos_token_id: int | None = Field(
        None, ge=0, description="beginning-of-sequence id, for generation (the char tokenizer uses 1)"
    )
    eos_token_id: int | None = Field(
        None, ge=0, description="end-of-sequence id, for generation (the char tokenizer uses 2)"
    )

    @field_validator("n_embd")
    @classmethod
    def _divisible_by_n_head(cls, value: int, info: ValidationInfo) -> int:
        n_head = info.data.get("n_head")
        if n_head and value % n_head:
            raise ValueError(f"must be a multiple of n_head ({n_head})")
        return value


def build_gpt2(params: GPT2Params | None = None, context: BuildContext | None = None) -> GPT2LMHeadModel | PeftModel:
    """A freshly initialised ``GPT2LMHeadModel`` (weights drawn from torch's global RNG),
    shaped by ``params.preset`` and any architecture fields set on top of it, in
    ``params.dtype`` on ``params.device`` (see :mod:`codex_models.models.placement`). Build under
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
    return with_lora(place(GPT2LMHeadModel(config), params.dtype, params.device), params.lora, FAMILY)
