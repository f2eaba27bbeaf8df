"""The ``accuracy`` metric: the fraction of predictions equal to their reference (``==``),
e.g. a multiple-choice task's chosen index against the label, or token ids. The result key
is a param (default ``acc``), so one task can report two accuracies (``acc`` and
``acc_norm``) with two instances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codex_models.evaluation.metrics.text import same_params

_HIT, _MISS = 1.0, 0.0


class AccuracyParams(BaseModel):
    """Params of the ``accuracy`` metric."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field("acc", min_length=1, description="the result key")


class Accuracy:
    """Accuracy (implements ``codex_core.protocols.Metric``): ``{key: fraction}``,
    ``nan`` before any update; ``sample_stats()`` is 1.0 or 0.0 per prediction."""

    inputs = ("tokens", "text")

    def __init__(self, params: AccuracyParams | None = None) -> None:
        self.params = params if params is not None else AccuracyParams()
        self._hits: list[float] = []

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.params.key,)

    def update(self, predictions: Sequence[Any], references: Sequence[Any]) -> None:
        if len(predictions) != len(references):
            raise ValueError(f"accuracy got {len(predictions)} predictions for {len(references)} references")
        self._hits.extend(_HIT if bool(p == r) else _MISS for p, r in zip(predictions, references, strict=True))

    def sample_stats(self) -> list[float]:
        return list(self._hits)

    def compute_from(self, stats: Sequence[float]) -> dict[str, float]:
        return {self.params.key: math.fsum(stats) / len(stats) if stats else math.nan}

    def compute(self) -> dict[str, float]:
        return self.compute_from(self._hits)

    def merge(self, other: Any) -> None:
        same_params(self, other)
        self._hits.extend(other._hits)

    def reset(self) -> None:
        self._hits = []

    def __repr__(self) -> str:
        return f"Accuracy(samples={len(self._hits)}, key={self.params.key!r})"
