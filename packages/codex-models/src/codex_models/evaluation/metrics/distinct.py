"""The ``distinct-n`` metric: how varied the predictions are, over all of them together.
``distinct_1`` is the number of different unigrams divided by the number of unigrams,
``distinct_2`` the same for bigrams; tokens are whitespace-separated and bigrams do not
cross predictions. References are not used.

A sample's statistic is its list of tokens (which fixes its unigrams and bigrams), so
``compute_from`` of a resample counts the n-grams of every drawn sample (a sample drawn
twice counts twice) and the different ones over their union.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from codex_models.evaluation.metrics.text import check_batch, same_params


class DistinctN:
    """distinct-1 and distinct-2 (implements ``codex_core.protocols.Metric``). ``nan``
    before any update; 0.0 for an order with no n-grams (e.g. distinct_2 of one-word
    predictions)."""

    inputs = "text"
    keys = ("distinct_1", "distinct_2")

    def __init__(self) -> None:
        self._tokens: list[list[str]] = []

    def update(self, predictions: Sequence[Any], references: Sequence[Any]) -> None:
        check_batch("distinct-n", predictions, references)
        self._tokens.extend(prediction.split() for prediction in predictions)

    def sample_stats(self) -> list[list[str]]:
        return [list(tokens) for tokens in self._tokens]

    def compute_from(self, stats: Sequence[Sequence[str]]) -> dict[str, float]:
        if not stats:
            return {key: math.nan for key in self.keys}
        unigrams: set[str] = set()
        bigrams: set[tuple[str, str]] = set()
        n_unigrams = n_bigrams = 0
        for tokens in stats:
            unigrams.update(tokens)
            bigrams.update(pairwise(tokens))
            n_unigrams += len(tokens)
            n_bigrams += max(len(tokens) - 1, 0)
        return {"distinct_1": len(unigrams) / n_unigrams if n_unigrams else 0.0,
                "distinct_2": len(bigrams) / n_bigrams if n_bigrams else 0.0}

    def compute(self) -> dict[str, float]:
        return self.compute_from(self._tokens)

    def merge(self, other: Any) -> None:
        same_params(self, other)
        self._tokens.extend(other._tokens)

    def reset(self) -> None:
        self._tokens = []

    def __repr__(self) -> str:
        return f"DistinctN(samples={len(self._tokens)})"
