"""The ``exact-match`` metric: the fraction of predictions equal to their reference.

Pure Python (no torch). It scores token ids (a run config's ``metrics:``, given the
training engine's next-token predictions) and decoded strings (evaluation tasks), where a
reference may also be a list of acceptable strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_HIT, _MISS = 1.0, 0.0


class ExactMatchParams(BaseModel):
    """Params of the ``exact-match`` metric."""

    model_config = ConfigDict(extra="forbid")

    normalize: bool | Literal["squad"] = Field(
        False,
        description="compare after stripping, collapsing runs of whitespace to one space and lowercasing; "
        "'squad': after SQuAD's answer normalisation (also removing punctuation and the articles a/an/the)",
    )


def normalize_text(text: str) -> str:
    """Strip, collapse runs of whitespace to one space, lowercase."""
    return " ".join(text.split()).lower()


class ExactMatch:
    """Exact match, accumulated over batches (implements ``codex_core.protocols.Metric``).

    With ``normalize`` the values are compared as normalized strings
    (:func:`normalize_text`, or with ``"squad"``
    :func:`codex_models.evaluation.metrics.squad.squad_normalize`); otherwise with ``==``.
    A reference that is a list (or tuple) of strings, given a string prediction, lists
    acceptable answers: the prediction matches when it equals any of them.
    ``compute()`` before any ``update`` returns ``{"exact_match": 0.0}``: check
    :attr:`total` (0) to tell "no data" from "nothing matched". ``sample_stats()`` is 1.0
    or 0.0 per prediction.
    """

    inputs = ("tokens", "text")

    def __init__(self, params: ExactMatchParams | None = None) -> None:
        self.params = params if params is not None else ExactMatchParams()
        self.correct = 0
        self.total = 0
        self._hits: list[float] = []

    def update(self, predictions: Sequence[Any], references: Sequence[Any]) -> None:
        if len(predictions) != len(references):
            raise ValueError(
                f"exact-match got {len(predictions)} predictions for {len(references)} references"
            )
        hits = [_HIT if self._matches(p, r) else _MISS for p, r in zip(predictions, references, strict=True)]
        self._hits.extend(hits)
        self.correct += hits.count(_HIT)
        self.total += len(hits)

    def compute(self) -> dict[str, float]:
        return {"exact_match": self.correct / self.total if self.total else 0.0}

    def sample_stats(self) -> list[float]:
        return list(self._hits)

    def compute_from(self, stats: Sequence[float]) -> dict[str, float]:
        return {"exact_match": sum(stats) / len(stats) if stats else 0.0}

    def merge(self, other: Any) -> None:
        """Add the counts of another ``ExactMatch`` (e.g. from another rank)."""
        if not isinstance(other, ExactMatch):
            raise TypeError(f"cannot merge {type(other).__name__} into ExactMatch")
        if other.params.normalize != self.params.normalize:
            raise ValueError("cannot merge exact-match metrics with different 'normalize' settings")
        self.correct += other.correct
        self.total += other.total
        self._hits.extend(other._hits)

    def reset(self) -> None:
        self.correct = 0
        self.total = 0
        self._hits = []

    def _matches(self, prediction: Any, reference: Any) -> bool:
        if isinstance(prediction, str) and isinstance(reference, (list, tuple)):
            return any(self._same(prediction, ref) for ref in reference if ref is not None)
        return self._same(prediction, reference)

    def _same(self, prediction: Any, reference: Any) -> bool:
        if self.params.normalize == "squad":
            from codex_models.evaluation.metrics.squad import squad_normalize

            return squad_normalize(str(prediction)) == squad_normalize(str(reference))
        if self.params.normalize:
            return normalize_text(str(prediction)) == normalize_text(str(reference))
        return bool(prediction == reference)

    def __repr__(self) -> str:
        return f"ExactMatch(correct={self.correct}, total={self.total}, normalize={self.params.normalize})"
