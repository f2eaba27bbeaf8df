"""Params models of the components in this package (pydantic only: no torch here, so a
config validates without importing the model code)."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core.core_schema import ValidatorFunctionWrapHandler
from typing_extensions import Self

from codex_models.presets import CHAR_VOCAB_SIZE, PRESETS, preset

__all__ = [
    "CHAR_VOCAB_SIZE",
    "DEVICE_PATTERN",
    "ExactMatchParams",
    "GPT2Params",
    "HFLocalParams",
    "LlamaParams",
    "LoRAParams",
]

DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
"""The device strings a model's ``device`` field accepts (checked without importing torch;
whether the device exists on this machine is checked when the model is built)."""


def _check_device(value: str) -> str:
    if not DEVICE_PATTERN.fullmatch(value):
        raise ValueError(f"unknown device {value!r}; use auto, cpu, cuda, cuda:N (N a number) or mps")
    return value


Device = Annotated[str, AfterValidator(_check_device)]
"""A device string in the form DEVICE_PATTERN describes."""


class LoRAParams(BaseModel):
    """LoRA adapters (through ``peft``) applied when the model is built: only the adapters
    train, the base weights are frozen."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(8, ge=1, description="rank of the low-rank update")
    alpha: float = Field(16.0, gt=0, description="scaling numerator: the update is scaled by alpha / r")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on the adapters' input")
    target_modules: list[str] | None = Field(
        None,
        description="module names (suffixes) to adapt; default per family: gpt2 c_attn, llama q_proj v_proj",
    )
    bias: Literal["none", "all", "lora_only"] = Field("none", description="which biases train too")


class _PresetParams(BaseModel):
    """A family's params: a ``preset`` name plus architecture fields that override it.

    An architecture field left out (or None) takes the preset's value, so after validation
    every architecture field is set; :meth:`architecture` returns them as a plain dict.
    """

    model_config = ConfigDict(extra="forbid")
    family: ClassVar[str]

    preset: str = Field("tiny", description="named starting shape; see `codex models list`")
    dtype: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="dtype of the weights as built: fp32, bf16 (cpu or a bf16 GPU) or fp16 (CUDA only)"
    )
    device: Device = Field(
        "cpu", description="where the weights live: auto (cuda, else mps, else cpu), cpu, cuda, cuda:N or mps"
    )
    lora: LoRAParams | None = Field(None, description="LoRA adapters to train instead of the full model")
    _explicit: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_explicit(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Record which fields the user set (not None), before the preset fills the rest:
        only those win over the tokenizer's vocabulary size and special ids."""
        model = handler(data)
        if isinstance(data, dict):
            model._explicit = frozenset(k for k, v in data.items() if v is not None)
        elif isinstance(data, _PresetParams):
            model._explicit = data._explicit
        return model

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        name = data.get("preset", "tiny")
        presets = PRESETS[cls.family]
        if not isinstance(name, str) or name not in presets:
            return data  # the preset field's validator reports it
        return {**data, **{k: v for k, v in presets[name].items() if data.get(k) is None}}

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        preset(cls.family, value)  # a ValueError with a did-you-mean for an unknown name
        return value


    @field_validator("pad_token_id", "bos_token_id", "eos_token_id", check_fields=False)
    @classmethod
    def _inside_vocabulary(cls, value: int | None, info: ValidationInfo) -> int | None:
        vocab_size = info.data.get("vocab_size")
        if value is not None and vocab_size is not None and value >= vocab_size:
            raise ValueError(f"must be below vocab_size ({vocab_size})")
        return value

    def architecture(self) -> dict[str, Any]:
        """The resolved architecture fields (the preset's keys), e.g. for ``param_count``."""
        return {name: getattr(self, name) for name in PRESETS[self.family][self.preset]}

    def for_tokenizer(self, tokenizer: Any) -> Self:
        """A copy whose vocab_size and pad/bos/eos ids come from ``tokenizer`` (a codex
        ``Tokenizer``: ``vocab_size`` and ``special_tokens`` by role), except where the
        user set them. An explicit vocab_size below the tokenizer's is an error (ids past
        the embedding table would crash the first batch); a larger one is kept (padding the
        table to a round size is common)."""
        if tokenizer is None:
            return self
        update: dict[str, Any] = {}
        vocab = int(tokenizer.vocab_size)
        if "vocab_size" not in self._explicit:
            update["vocab_size"] = vocab
        elif self.vocab_size is not None and self.vocab_size < vocab:
            raise ValueError(
                f"vocab_size {self.vocab_size} is below the tokenizer's {vocab}; "
                "remove vocab_size from the model params to take the tokenizer's"
            )
        roles = dict(getattr(tokenizer, "special_tokens", {}) or {})
        for role in ("pad", "bos", "eos"):
            if f"{role}_token_id" not in self._explicit and role in roles:
                update[f"{role}_token_id"] = int(roles[role])
        copy = self.model_copy(update=update)
        copy._explicit = self._explicit
        return copy


class GPT2Params(_PresetParams):
    """Params of the ``gpt2`` model builder (a GPT-2 built from config, never downloaded).

    Presets: ``tiny`` (the default: vocab 104 for the char tokenizer, 2 layers, 2 heads,
    width 64, 256 positions), ``small`` and ``gpt2-124m`` (the shape of OpenAI's GPT-2).
    """

    family: ClassVar[str] = "gpt2"

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


class LlamaParams(_PresetParams):
    """Params of the ``llama`` model builder (a Llama built from config, never downloaded).

    Presets: ``tiny`` (the default, vocab 104), ``small`` and ``tinyllama-1.1b`` (the shape
    of TinyLlama 1.1B: grouped-query attention with 4 key-value heads).
    """

    family: ClassVar[str] = "llama"

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


class HFLocalParams(BaseModel):
    """Params of ``hf-local``: a causal LM in Hugging Face format from a local directory
    (``config.json`` + weights + ``tokenizer.json``), loaded with ``local_files_only``."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="the model directory (never a hub name: nothing is downloaded)")
    dtype: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="dtype of the weights as loaded")
    device: Device = Field("cpu", description="auto, cpu, cuda, cuda:N or mps")
    lora: LoRAParams | None = Field(None, description="LoRA adapters to train instead of the full model")



class ExactMatchParams(BaseModel):
    """Params of the ``exact-match`` metric."""

    model_config = ConfigDict(extra="forbid")

    normalize: bool = Field(
        False,
        description="compare after stripping, collapsing runs of whitespace to one space and lowercasing",
    )
