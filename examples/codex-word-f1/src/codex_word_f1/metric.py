"""Word-overlap F1 (as in SQuAD): the harmonic mean of word precision and recall."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field


class WordF1Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lowercase: bool = Field(True, description="compare words case-insensitively")


class WordF1:
    """Mean per-example F1; ``merge`` combines the state of several ranks.

    It scores decoded text (``inputs = "text"``), so it is used by evaluation tasks
    (``codex eval --task generation:metrics=[word-f1]``), not in a run config's ``metrics:``,
    which gets next-token ids. ``sample_stats``/``compute_from`` give ``codex eval`` its
    bootstrap intervals and paired comparisons.
    """

    inputs = "text"

    def __init__(self, params: WordF1Params) -> None:
        self.params = params
        self.scores: list[float] = []

    def _words(self, text: str) -> list[str]:
        return (text.lower() if self.params.lowercase else text).split()

    def update(self, predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> None:
        """``references[i]`` is a string or a list of acceptable strings (the best one counts)."""
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
        for pred, refs in zip(predictions, references, strict=True):
            alternatives = [refs] if isinstance(refs, str) else list(refs)
            if not alternatives:
                raise ValueError("a prediction with no reference")
            self.scores.append(max(self._f1(pred, ref) for ref in alternatives))

    def _f1(self, prediction: str, reference: str) -> float:
        p, r = self._words(prediction), self._words(reference)
        shared = sum((Counter(p) & Counter(r)).values())
        if not p and not r:
            return 1.0
        if shared == 0:
            return 0.0
        precision, recall = shared / len(p), shared / len(r)
        return 2 * precision * recall / (precision + recall)

    def compute(self) -> dict[str, float]:
        return self.compute_from(self.scores)

    def sample_stats(self) -> list[float]:
        return list(self.scores)

    def compute_from(self, stats: Sequence[float]) -> dict[str, float]:
        return {"word_f1": sum(stats) / len(stats) if stats else 0.0}

    def merge(self, other: WordF1) -> None:
        self.scores.extend(other.scores)

    def reset(self) -> None:
        self.scores = []
