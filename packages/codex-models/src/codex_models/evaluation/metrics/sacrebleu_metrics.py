"""The ``bleu`` and ``chrf`` metrics: sacrebleu's corpus BLEU and chrF, on its 0-100 scale
(the optional extra ``codex-models[eval]``; sacrebleu is imported when a metric is built).

Each sample keeps sacrebleu's own sentence statistics (BLEU: hypothesis and closest
reference length, then the n-gram matches and totals of each order; chrF: the
hypothesis/reference/match counts of each character and word n-gram order, taken from the
sample's best reference). ``compute_from`` sums them and scores the sums with sacrebleu's
stats-to-score function, so the corpus score equals ``sacrebleu.corpus_bleu`` /
``corpus_chrf`` on the same data and a bootstrap resample is scored without tokenizing
again. A sample's references are one string or a list; samples may have different numbers
of references (as sacrebleu allows with ``None`` in a reference stream).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from codex_models.evaluation.metrics.text import check_batch, reference_list, require, same_params

BLEUTokenizer = Literal["13a", "none", "intl", "char", "zh", "ja-mecab", "ko-mecab"]


class BLEUParams(BaseModel):
    """Params of the ``bleu`` metric (sacrebleu's ``BLEU`` options)."""

    model_config = ConfigDict(extra="forbid")

    tokenize: BLEUTokenizer = Field("13a", description="sacrebleu tokenizer (13a is sacrebleu's default; "
                                    "ja-mecab and ko-mecab need their own packages)")
    lowercase: bool = Field(False, description="compare lowercased text")
    smooth_method: Literal["exp", "floor", "add-k", "none"] = Field("exp", description="sacrebleu smoothing method")
    smooth_value: float | None = Field(None, description="the smoothing value of 'floor' and 'add-k' "
                                       "(default: sacrebleu's)")
    max_ngram_order: int = Field(4, ge=1, le=8, description="the largest n-gram order")


class CHRFParams(BaseModel):
    """Params of the ``chrf`` metric (sacrebleu's ``CHRF`` options; ``word_order: 2`` is chrF++)."""

    model_config = ConfigDict(extra="forbid")

    char_order: int = Field(6, ge=1, description="the largest character n-gram order")
    word_order: int = Field(0, ge=0, description="the largest word n-gram order (2: chrF++)")
    beta: int = Field(2, ge=1, description="recall counts beta times as much as precision")
    lowercase: bool = Field(False, description="compare lowercased text")
    whitespace: bool = Field(False, description="keep whitespace in character n-grams")
    eps_smoothing: bool = Field(False, description="epsilon smoothing (as chrF++.py, NLTK and Moses) instead of "
                                "sacrebleu's effective order")


class _SacreMetric:
    """Per-sample sacrebleu statistics, summed and scored by the wrapped sacrebleu metric."""

    inputs = "text"
    name = ""
    key = ""
    params: BaseModel

    def __init__(self) -> None:
        self._stats: list[list[int]] = []
        self._scorer = self._build()

    def _build(self) -> Any:
        raise NotImplementedError

    def _stats_length(self) -> int:
        raise NotImplementedError

    def update(self, predictions: Sequence[Any], references: Sequence[Any]) -> None:
        check_batch(self.name, predictions, references)
        for prediction, reference in zip(predictions, references, strict=True):
            refs = [[ref] for ref in reference_list(self.name, reference)]
            (stats,) = self._scorer._extract_corpus_statistics([prediction], refs)
            self._stats.append([int(value) for value in stats])

    def sample_stats(self) -> list[list[int]]:
        return [list(stats) for stats in self._stats]

    def compute_from(self, stats: Sequence[Sequence[int]]) -> dict[str, float]:
        if not stats:
            return {self.key: math.nan}
        width = self._stats_length()
        if any(len(row) != width for row in stats):
            raise ValueError(f"{self.name} statistics must have {width} numbers each (these params)")
        totals = [sum(column) for column in zip(*stats, strict=True)]
        return {self.key: float(self._scorer._compute_score_from_stats(totals).score)}

    def compute(self) -> dict[str, float]:
        return self.compute_from(self._stats)

    def merge(self, other: Any) -> None:
        same_params(self, other)
        self._stats.extend(other._stats)

    def reset(self) -> None:
        self._stats = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(samples={len(self._stats)}, {self.params!r})"


class BLEU(_SacreMetric):
    """sacrebleu corpus BLEU -> ``bleu`` (implements ``codex_core.protocols.Metric``);
    ``nan`` before any update."""

    name, key = "bleu", "bleu"
    params: BLEUParams

    def __init__(self, params: BLEUParams | None = None) -> None:
        self.params = params if params is not None else BLEUParams()
        super().__init__()

    def _build(self) -> Any:
        metrics = require("sacrebleu.metrics", "sacrebleu", self.name)
        p = self.params
        try:
            return metrics.BLEU(tokenize=p.tokenize, lowercase=p.lowercase, smooth_method=p.smooth_method,
                                smooth_value=p.smooth_value, max_ngram_order=p.max_ngram_order)
        except ImportError as exc:
            from codex_core.errors import CodexError

            raise CodexError(f"bleu: sacrebleu's {p.tokenize!r} tokenizer cannot be used here: {exc}".splitlines()[0],
                             hint="install what it needs, or use tokenize: 13a") from None

    def _stats_length(self) -> int:
        return 2 + 2 * self.params.max_ngram_order


class CHRF(_SacreMetric):
    """sacrebleu corpus chrF (chrF++ with ``word_order: 2``) -> ``chrf``
    (implements ``codex_core.protocols.Metric``); ``nan`` before any update."""

    name, key = "chrf", "chrf"
    params: CHRFParams

    def __init__(self, params: CHRFParams | None = None) -> None:
        self.params = params if params is not None else CHRFParams()
        super().__init__()

    def _build(self) -> Any:
        metrics = require("sacrebleu.metrics", "sacrebleu", self.name)
        p = self.params
        return metrics.CHRF(char_order=p.char_order, word_order=p.word_order, beta=p.beta, lowercase=p.lowercase,
                            whitespace=p.whitespace, eps_smoothing=p.eps_smoothing)

    def _stats_length(self) -> int:
        return 3 * (self.params.char_order + self.params.word_order)
