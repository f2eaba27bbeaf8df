"""The ``pass-at-k`` metric: the unbiased pass@k estimator of Chen et al. (2021).

For a problem with ``n`` samples of which ``c`` pass, the probability that at least one of
``k`` samples drawn without replacement passes is ``1 - C(n - c, k) / C(n, k)``, computed as
the product ``prod_{i = n - c + 1}^{n} (1 - k / i)`` (human-eval's numerically stable form).
pass@k is its mean over problems. This is not "any of the first k passed": all ``n``
samples are used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codex_core.errors import CodexError


class PassAtKParams(BaseModel):
    """Params of the ``pass-at-k`` metric."""

    model_config = ConfigDict(extra="forbid")

    k: list[int] = Field(default_factory=lambda: [1], min_length=1,
                         description="the k of each pass@k reported; each at most every problem's number of samples")
    suffix: str = Field("", description="appended to each key, e.g. '_clean' gives pass@1_clean")

    @field_validator("k")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(k < 1 for k in value):
            raise ValueError(f"every k must be at least 1, got {value}")
        return sorted(set(value))


def pass_at_k(n: int, c: int, k: int) -> float:
    """``1 - C(n - c, k) / C(n, k)``: the chance that one of ``k`` of ``n`` samples, ``c``
    of them correct, is correct."""
    if k > n:
        raise CodexError(f"pass@{k} needs at least {k} samples per problem; a problem has {n}",
                         hint="raise n (samples per problem) or lower k")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


class PassAtK:
    """pass@k over problems (implements ``codex_core.protocols.Metric``).

    ``update(predictions, references)``: each prediction is one problem's sample results
    (a list of bools: passed or not), or None for a problem this instance leaves out (the
    ``_clean`` scorer skips contaminated problems); references are not used. A problem's
    statistic is ``[n, c]`` (None when left out); pass@k is the mean of the estimator over
    the problems not left out (``nan`` when there are none).
    """

    inputs = "text"

    def __init__(self, params: PassAtKParams | None = None) -> None:
        self.params = params if params is not None else PassAtKParams()
        self._stats: list[list[int] | None] = []

    def update(self, predictions: Sequence[Any], references: Sequence[Any] | None = None) -> None:
        for results in predictions:
            if results is None:
                self._stats.append(None)
            elif isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
                raise TypeError(f"pass-at-k takes one list of sample results per problem, not {type(results).__name__}")
            else:
                self._stats.append([len(results), sum(bool(r) for r in results)])

    def sample_stats(self) -> list[list[int] | None]:
        return [None if s is None else list(s) for s in self._stats]

    def compute_from(self, stats: Sequence[Sequence[int] | None]) -> dict[str, float]:
        kept = [(int(s[0]), int(s[1])) for s in stats if s is not None]
        out = {}
        for k in self.params.k:
            values = [pass_at_k(n, c, k) for n, c in kept]
            out[f"pass@{k}{self.params.suffix}"] = math.fsum(values) / len(values) if values else math.nan
        return out

    def compute(self) -> dict[str, float]:
        return self.compute_from(self._stats)

    def merge(self, other: Any) -> None:
        if not isinstance(other, PassAtK):
            raise TypeError(f"cannot merge {type(other).__name__} into PassAtK")
        if other.params != self.params:
            raise ValueError("cannot merge pass-at-k metrics with different k or suffix")
        self._stats.extend(other.sample_stats())

    def reset(self) -> None:
        self._stats = []

    def __repr__(self) -> str:
        return f"PassAtK(k={self.params.k}, suffix={self.params.suffix!r}, problems={len(self._stats)})"
