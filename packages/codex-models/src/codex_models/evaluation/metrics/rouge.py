"""The ``rouge-l`` metric: ``rouge_score``'s ROUGE-L F-measure (longest common
subsequence), best over a sample's references, averaged over samples; key ``rouge_l`` on a
0-1 scale. rouge-score is the optional extra ``codex-models[eval]``, imported when the
metric is built. rouge_score's default tokenizer is used (lowercase; ASCII letters and
digits only), without stemming.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codex_core.evaluation import MeanStats
from codex_models.evaluation.metrics.text import check_batch, reference_list, require


class RougeL(MeanStats):
    """ROUGE-L F-measure (implements ``codex_core.protocols.Metric``); ``nan`` before any
    update."""

    inputs = "text"
    keys = ("rouge_l",)

    def __init__(self) -> None:
        super().__init__()
        rouge_scorer = require("rouge_score.rouge_scorer", "rouge-score", "rouge-l")
        self._scorer = rouge_scorer.RougeScorer(["rougeL"])

    def update(self, predictions: Sequence[Any], references: Sequence[Any]) -> None:
        check_batch("rouge-l", predictions, references)
        for prediction, reference in zip(predictions, references, strict=True):
            best = max(self._scorer.score(ref, prediction)["rougeL"].fmeasure
                       for ref in reference_list("rouge-l", reference))
            self._rows.append({"rouge_l": float(best)})

    def __repr__(self) -> str:
        return f"RougeL(samples={len(self._rows)})"
