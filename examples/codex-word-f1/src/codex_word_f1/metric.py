"""Word-overlap F1 (as in SQuAD): the harmonic mean of word precision and recall."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field


class WordF1Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lowercase: bool = Field(True, description="compare words case-insensitively")


class WordF1:
    """Mean per-example F1; ``merge`` combines the state of several ranks."""

    def __init__(self, params: WordF1Params) -> None:
        self.params = params
        self.total = 0.0
        self.count = 0

    def _words(self, text: str) -> list[str]:
        return (text.lower() if self.params.lowercase else text).split()

    def update(self, predictions: Sequence[str], references: Sequence[str]) -> None:
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
        for pred, ref in zip(predictions, references, strict=True):
            p, r = self._words(pred), self._words(ref)
            shared = sum((Counter(p) & Counter(r)).values())
            if not p and not r:
                f1 = 1.0
            elif shared == 0:
                f1 = 0.0
            else:
                precision, recall = shared / len(p), shared / len(r)
                f1 = 2 * precision * recall / (precision + recall)
            self.total += f1
            self.count += 1

    def compute(self) -> dict[str, float]:
        return {"word_f1": self.total / self.count if self.count else 0.0}

    def merge(self, other: WordF1) -> None:
        self.total += other.total
        self.count += other.count

    def reset(self) -> None:
        self.total, self.count = 0.0, 0
