"""The ``pass-at-k`` metric: the unbiased estimator of Chen et al. (2021) on hand-computed
cases, its per-problem statistics, and the metric protocol."""

from __future__ import annotations

import json
import math

import pytest

from codex_core.errors import CodexError
from codex_core.evaluation import TaskResult, bootstrap_intervals
from codex_models.evaluation.metrics.pass_at_k import PassAtK, PassAtKParams, pass_at_k


def results(n: int, c: int) -> list[bool]:
    return [True] * c + [False] * (n - c)


def test_n10_c3_gives_the_hand_computed_values() -> None:
    metric = PassAtK(PassAtKParams(k=[1, 5]))
    metric.update([results(10, 3)], [None])
    values = metric.compute()
    assert values["pass@1"] == pytest.approx(0.3)
    assert values["pass@5"] == pytest.approx(0.916667, abs=1e-6)  # 1 - C(7,5)/C(10,5) = 1 - 21/252


def test_the_estimator_equals_one_minus_the_binomial_ratio() -> None:
    for n, c, k in [(10, 0, 1), (10, 10, 3), (20, 7, 10), (5, 4, 2), (100, 1, 50)]:
        expected = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12)


def test_pass_at_k_is_the_mean_over_problems_not_any_of_the_first_k() -> None:
    metric = PassAtK(PassAtKParams(k=[1, 2]))
    # the only passing sample comes last: "any of the first 2" would say 0
    metric.update([[False, False, True], [True, True, True]], [None, None])
    assert metric.compute() == pytest.approx({"pass@1": (1 / 3 + 1) / 2, "pass@2": (2 / 3 + 1) / 2})


def test_problems_given_as_none_are_left_out_and_the_suffix_names_the_keys() -> None:
    metric = PassAtK(PassAtKParams(k=[1], suffix="_clean"))
    metric.update([[True], None, [False, False]], [None, None, None])
    assert metric.sample_stats() == [[1, 1], None, [2, 0]]
    assert metric.compute() == {"pass@1_clean": 0.5}


def test_no_problem_gives_nan() -> None:
    metric = PassAtK()
    metric.update([None], [None])
    assert math.isnan(metric.compute()["pass@1"])


def test_a_problem_with_fewer_samples_than_k_is_a_one_line_error() -> None:
    metric = PassAtK(PassAtKParams(k=[5]))
    metric.update([results(3, 1)], [None])
    with pytest.raises(CodexError, match="pass@5 needs at least 5 samples") as info:
        metric.compute()
    assert "\n" not in str(info.value)


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PassAtKParams(k=[0])


def test_statistics_are_json_and_resample_like_compute() -> None:
    metric = PassAtK(PassAtKParams(k=[1, 2]))
    metric.update([results(4, 1), results(4, 4), results(4, 0)], [None] * 3)
    stats = json.loads(json.dumps(metric.sample_stats()))
    assert metric.compute_from(stats) == metric.compute()
    assert metric.compute_from([stats[1], stats[1]]) == {"pass@1": 1.0, "pass@2": 1.0}


def test_merge_and_reset() -> None:
    a, b = PassAtK(), PassAtK()
    a.update([[True]], [None])
    b.update([[False]], [None])
    a.merge(b)
    assert a.compute() == {"pass@1": 0.5}
    with pytest.raises(ValueError, match="different k"):
        a.merge(PassAtK(PassAtKParams(k=[1], suffix="_clean")))
    a.reset()
    assert a.sample_stats() == []


def test_it_declares_text_inputs_and_is_registered(add_plugin: object, codex_registry: object) -> None:
    from codex_core.context import BuildContext

    context = BuildContext(registry=codex_registry)  # type: ignore[arg-type]
    metric = context.build("metric", "pass-at-k", {"k": [1, 3]})
    assert isinstance(metric, PassAtK) and metric.inputs == "text"
    metric.update([results(3, 1)], [None])
    assert set(metric.compute()) == {"pass@1", "pass@3"}


def test_bootstrap_intervals_resample_problems() -> None:
    metric = PassAtK()
    metric.update([[True], [False], [True], [True]], [None] * 4)
    result = TaskResult(ids=["a", "b", "c", "d"], scorers=[metric])
    ci = bootstrap_intervals(result, resamples=200, seed=3)
    low, high = ci["pass@1"]
    assert 0.0 <= low <= 0.75 <= high <= 1.0
    assert ci == bootstrap_intervals(result, resamples=200, seed=3)
