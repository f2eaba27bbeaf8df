"""Params models of the record datasets: ``jsonl``, ``csv`` and ``sft-jsonl`` (pydantic only)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from codex_core.config import ConfigPath


class RecordParams(BaseModel):
    """What every record dataset shares: where the files are, ids, and bad-row handling."""

    model_config = ConfigDict(extra="forbid")

    paths: list[ConfigPath] = Field(
        min_length=1,
        description="files, directories (every file below, hidden ones skipped) or globs "
        "('data/**/*.jsonl'); default ids are '<path relative to each one's folder>:<line>'. In a "
        "config file, relative to that file's folder",
    )
    id_field: str | None = Field(
        None,
        description="take each document's id from this field (must be unique) instead of '<path>:<line>'",
    )
    bad_rows: Literal["error", "skip"] = Field(
        "error",
        description="'error': stop at the first bad row, naming file, line and problem; "
        "'skip': skip bad rows and count them (skipped_rows, skipped_reasons)",
    )


class JsonlParams(RecordParams):
    """Params of the ``jsonl`` dataset: one JSON object per line."""

    text_field: str = Field("text", description="the field holding each document's text (a string)")


class CsvParams(RecordParams):
    """Params of the ``csv`` dataset: a header row, then one document per row."""

    text_field: str = Field("text", description="the column holding each document's text")
    delimiter: str = Field(",", description="the one-character field separator, e.g. ',' or '\\t'")

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError(f"delimiter must be one character; got {value!r}")
        return value


class SFTParams(RecordParams):
    """Params of the ``sft-jsonl`` dataset: prompt/completion or chat ``messages`` records."""

    chat_template: str | None = Field(
        None,
        description="a Jinja2 chat template (as in a Hugging Face tokenizer_config.json), rendered with "
        "messages, bos_token, eos_token and add_generation_prompt=False; default: the built-in template",
    )
    tokenizer_config: ConfigPath | None = Field(
        None, description="a local Hugging Face tokenizer_config.json whose 'chat_template' to use"
    )
    bos_token: str | None = Field(
        None,
        description="the text of bos_token in the template (default: tokenizer_config's, else the tokenizer's)",
    )
    eos_token: str | None = Field(
        None,
        description="the text of eos_token in the template (default: tokenizer_config's, else the tokenizer's)",
    )

    @model_validator(mode="after")
    def _one_template_source(self) -> SFTParams:
        if self.chat_template is not None and self.tokenizer_config is not None:
            raise ValueError("give chat_template or tokenizer_config, not both")
        return self
