"""Params models of the datasets in this package (pydantic only)."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codex_core.config import ConfigPath


class TextParams(BaseModel):
    """Params of the ``text`` dataset."""

    model_config = ConfigDict(extra="forbid")

    paths: list[ConfigPath] = Field(
        min_length=1,
        description="files, directories (every file below, hidden ones skipped) or globs "
        "('data/**/*.txt'); document ids are relative to each one's folder. In a config file, "
        "relative to that file's folder",
    )
    mode: Literal["file", "line"] = Field(
        "file", description="'file': one document per file; 'line': one per non-empty line"
    )
    extensions: list[str] | None = Field(
        None, description="keep only files whose name ends with one of these, e.g. ['.py', '.txt']"
    )
    encoding: str = Field(
        "utf-8", description="text encoding of the files; files that fail to decode are skipped and counted"
    )

    @field_validator("extensions")
    @classmethod
    def _dotted(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            bad = [ext for ext in value if not ext.startswith(".") or len(ext) < 2]
            if bad:
                raise ValueError(f"extensions must start with a dot, like '.txt'; got {bad}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
        return value
