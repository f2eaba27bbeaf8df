"""The ``exact-match`` metric: the fraction of predictions equal to their reference.

Pure Python (no torch), so it works on decoded strings from any model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ExactMatchParams(BaseModel):
    """Params of the ``exact-match`` metric."""

    model_config = ConfigDict(extra="forbid")

    normalize: bool = Field(
        False,
        description="compare after stripping, collapsing runs of whitespace to one space and lowercasing",
    )


def normalize_text(text: str) -> str:
    """Strip, collapse runs of whitespace to one space, lowercase."""
    return " ".join(text.split()).lower()


class ExactMatch:
    """Exact match, accumulated over batches (implements ``codex_core.protocols.Metric``).

    With ``normalize`` the values are compared as normalized strings
    (:func:`normalize_text`); otherwise with ``==``. ``compute()`` before any ``update``
    returns ``{"exact_match": 0.0}``: check :attr:`total` (0) to tell "no data" from
    "nothing matched".
    """

    def __init__(self, params: ExactMatchParams | None = None) -> None:
        self.params = params if params is not None else ExactMatchParams()
        self.correct = 0
        self.total = 0

    def update(self, predictions: Sequence[Any], references: Sequence[Any]) -> None:
        if len(predictions) != len(references):
            raise ValueError(
                f"exact-match got {len(predictions)} predictions for {len(references)} references"
            )
        for prediction, reference in zip(predictions, references, strict=True):
            self.correct += int(self._same(prediction, reference))
        self.total += len(predictions)

    def compute(self) -> dict[str, float]:
        return {"exact_match": self.correct / self.total if self.total else 0.0}

    def merge(self, other: Any) -> None:
        """Add the counts of another ``ExactMatch`` (e.g. from another rank)."""
        if not isinstance(other, ExactMatch):
            raise TypeError(f"cannot merge {type(other).__name__} into ExactMatch")
        if other.params.normalize != self.params.normalize:
            raise ValueError("cannot merge exact-match metrics with different 'normalize' settings")
        self.correct += other.correct
        self.total += other.total

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def _same(self, prediction: Any, reference: Any) -> bool:
        if self.params.normalize:
            return normalize_text(str(prediction)) == normalize_text(str(reference))
        return bool(prediction == reference)

    def __repr__(self) -> str:
        return f"ExactMatch(correct={self.correct}, total={self.total}, normalize={self.params.normalize})"
