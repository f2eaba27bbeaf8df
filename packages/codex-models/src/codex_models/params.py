"""Params models of the components in this package (pydantic only: no torch here, so a
config validates without importing the model code)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

CHAR_VOCAB_SIZE = 4 + 100
"""The vocabulary of the default ``char`` tokenizer: 4 special tokens (pad, bos, eos, unk)
plus the 100 characters of ``string.printable``."""


class GPT2Params(BaseModel):
    """Params of the ``gpt2`` model builder (a GPT-2 built from config, never downloaded)."""

    model_config = ConfigDict(extra="forbid")

    vocab_size: int = Field(
        CHAR_VOCAB_SIZE, ge=1, description="token ids the model embeds; match the tokenizer's vocab_size"
    )
    n_positions: int = Field(256, ge=1, description="longest sequence the model accepts (context length)")
    n_layer: int = Field(2, ge=1, description="transformer blocks")
    n_head: int = Field(2, ge=1, description="attention heads per block; must divide n_embd")
    n_embd: int = Field(64, ge=1, description="width of the embeddings and hidden states")
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

    @field_validator("pad_token_id", "bos_token_id", "eos_token_id")
    @classmethod
    def _inside_vocabulary(cls, value: int | None, info: ValidationInfo) -> int | None:
        vocab_size = info.data.get("vocab_size")
        if value is not None and vocab_size is not None and value >= vocab_size:
            raise ValueError(f"must be below vocab_size ({vocab_size})")
        return value


class ExactMatchParams(BaseModel):
    """Params of the ``exact-match`` metric."""

    model_config = ConfigDict(extra="forbid")

    normalize: bool = Field(
        False,
        description="compare after stripping, collapsing runs of whitespace to one space and lowercasing",
    )
