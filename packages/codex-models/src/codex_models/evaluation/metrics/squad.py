"""The ``squad-f1`` metric: SQuAD v1.1's token F1 (its official evaluation script's
``normalize_answer`` and ``f1_score``), best over a sample's references, averaged over
samples; key ``f1`` on a 0-1 scale.

Pure Python. :func:`squad_normalize` is also ``exact-match``'s ``normalize: squad``.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

from codex_core.evaluation import MeanStats
from codex_models.evaluation.metrics.text import check_batch, reference_list

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def squad_normalize(text: str) -> str:
    """SQuAD's answer normalisation: lowercase, remove punctuation, remove the articles
    a/an/the, collapse whitespace."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def squad_f1(prediction: str, reference: str) -> float:
    """Token F1 of two answers after :func:`squad_normalize` (0 when no token is shared)."""
    predicted, expected = squad_normalize(prediction).split(), squad_normalize(reference).split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


class SquadF1(MeanStats):
    """SQuAD token F1 (implements ``codex_core.protocols.Metric``): each sample's best F1
    over its references (a string or a list of acceptable strings), averaged. Before any
    update ``compute()`` gives ``nan``."""

    inputs = "text"
    keys = ("f1",)

    def update(self, predictions: Sequence[Any], references: Sequence[Any]) -> None:
        check_batch("squad-f1", predictions, references)
        for prediction, reference in zip(predictions, references, strict=True):
            best = max(squad_f1(prediction, ref) for ref in reference_list("squad-f1", reference))
            self._rows.append({"f1": best})

    def __repr__(self) -> str:
        return f"SquadF1(samples={len(self._rows)})"
