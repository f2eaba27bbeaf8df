"""Params models of the tokenizers in this package (pydantic; no other heavy import)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from codex_core.config import ConfigPath, ParamsOf

DEFAULT_ALPHABET = (
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c"
)
"""The default alphabet: the 100 characters of ``string.printable``, in that order
(printable ASCII, space, and the whitespace characters ``\\t \\n \\r \\x0b \\x0c``).
Spelled out so that the ids never depend on the Python version."""


class CharTokenizerParams(BaseModel):
    """Params of the ``char`` tokenizer."""

    model_config = ConfigDict(extra="forbid")

    alphabet: str | None = Field(
        None,
        description="the characters that get their own id, in id order after the 4 special tokens; "
        "default: the 100 characters of Python's string.printable",
    )
    add_bos: bool = Field(False, description="prepend <bos> to every encoded text")
    add_eos: bool = Field(False, description="append <eos> to every encoded text")

    @field_validator("alphabet")
    @classmethod
    def _distinct_characters(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value:
            raise ValueError("the alphabet is empty; leave it unset for the default")
        repeated = sorted({c for c in value if value.count(c) > 1})
        if repeated:
            raise ValueError(f"the alphabet repeats characters: {''.join(repeated)!r}")
        return value

    def resolved_alphabet(self) -> str:
        """The alphabet in use: the given one, else :data:`DEFAULT_ALPHABET`."""
        return DEFAULT_ALPHABET if self.alphabet is None else self.alphabet


Backend = Literal["auto", "rust", "python"]


class TokenizerFileParams(BaseModel):
    """Params of ``tokenizer-json``: load an existing tokenizer.json."""

    model_config = ConfigDict(extra="forbid")

    path: ConfigPath = Field(description="a tokenizer.json, or a directory holding one")
    backend: Backend = Field("auto", description="engine: auto (rust when installed), rust or python")


class TrainedTokenizerParams(BaseModel):
    """Params of ``bpe``, ``wordpiece`` and ``unigram``: trained on first use, then cached
    under the cache root by a hash of these params and of the training data."""

    model_config = ConfigDict(extra="forbid")

    vocab_size: int = Field(8000, ge=1, description="target vocabulary size, special tokens included")
    min_frequency: int = Field(2, ge=1, description="pairs/pieces seen fewer times are not merged")
    special_tokens: list[str] | None = Field(
        None, description="special tokens (ids 0..n-1); default per kind, e.g. <|endoftext|>, <|pad|> for bpe"
    )
    files: list[ConfigPath] | None = Field(None, description="training files, directories or globs")
    dataset: str | None = Field(None, description="a registered dataset to train on (e.g. stdlib-code)")
    dataset_params: Annotated[dict[str, Any], ParamsOf("dataset", "dataset")] = Field(
        default_factory=dict, description="params of that dataset")
    max_documents: int | None = Field(None, ge=1, description="train on the first N documents only")
    template: Literal["auto", "none", "bos-eos", "cls-sep"] = Field(
        "auto", description="special tokens around each text; auto: cls-sep for wordpiece, else none")
    backend: Backend = Field("auto", description="engine used after training: auto, rust or python")

    @model_validator(mode="after")
    def _one_source(self) -> TrainedTokenizerParams:
        if (self.files is None) == (self.dataset is None):
            raise ValueError("give exactly one of 'files' and 'dataset' to train on")
        return self
