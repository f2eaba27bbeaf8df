"""Params models of the tokenizers in this package (pydantic; no other heavy import)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
