"""Params model of the ``http``/``https`` connector (pydantic only)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HEX64 = re.compile(r"[0-9a-f]{64}")


class HTTPParams(BaseModel):
    """Params of the ``http`` and ``https`` connectors."""

    model_config = ConfigDict(extra="forbid")

    sha256: str | None = Field(
        None,
        description="expected sha256 (64 hex digits) of the downloaded bytes; a mismatch is an "
        "error and nothing is cached. When unset, the computed sha256 is recorded in a '.json' "
        "file next to the download and logged, so it can be pinned here",
    )
    max_bytes: int | None = Field(
        None, gt=0, description="largest download allowed, in bytes; larger ones are errors (unset: no limit)"
    )
    retries: int = Field(
        4,
        ge=0,
        le=100,
        description="retries after a failed attempt (connection error, truncated body, 5xx, 408, 429); "
        "each retry resumes where the last one stopped",
    )
    backoff: float = Field(
        0.5, ge=0, description="seconds to wait before the first retry; doubled for each further one"
    )
    timeout: float = Field(30.0, gt=0, description="seconds to wait for the server on each connect or read")
    extract: bool = Field(
        False, description="unpack a .zip/.tar.gz/.tgz download (safely) and locate its files instead")

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not _HEX64.fullmatch(value):
            raise ValueError(f"sha256 must be 64 hex digits, got {value!r}")
        return value
