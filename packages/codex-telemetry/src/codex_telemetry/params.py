"""Params models of the loggers in this package (pydantic only)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CSVLoggerParams(BaseModel):
    """Params of the ``csv`` logger."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(
        None,
        description="the CSV file; default: <run dir>/metrics.csv. A relative path is taken "
        "relative to the run directory when there is one",
    )
    flush_every: int = Field(
        1, ge=1, description="write to disk every this many log_metrics calls (and on close)"
    )
