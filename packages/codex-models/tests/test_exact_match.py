"""The ``exact-match`` metric (alias ``em``), built through the registry."""

from __future__ import annotations

import pytest

import codex_models.plugin
from codex_core.protocols import Metric, metric_inputs
from codex_core.registry import Registry
from codex_models import ExactMatch


@pytest.fixture
def em(codex_installed_registry: Registry) -> ExactMatch:
    return codex_installed_registry.build("metric", "exact-match")


def test_exact_match_implements_the_metric_protocol(em: ExactMatch) -> None:
    assert isinstance(em, Metric)


def test_fraction_of_exact_matches(em: ExactMatch) -> None:
    em.update(["a", "b", "c", "d"], ["a", "b", "x", "D"])
    assert em.compute() == {"exact_match": 0.5}


def test_no_data_computes_zero(em: ExactMatch) -> None:
    assert (em.compute(), em.total) == ({"exact_match": 0.0}, 0)


def test_normalize_ignores_case_and_whitespace(codex_installed_registry: Registry) -> None:
    metric = codex_installed_registry.build("metric", "em", {"normalize": True})
    metric.update(["  Hello   World\n"], ["hello world"])
    assert metric.compute() == {"exact_match": 1.0}


def test_without_normalize_whitespace_matters(em: ExactMatch) -> None:
    em.update(["hello "], ["hello"])
    assert em.compute() == {"exact_match": 0.0}


def test_mismatched_lengths_are_a_value_error(em: ExactMatch) -> None:
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        em.update(["a", "b"], ["a"])


def test_merge_adds_counts(codex_installed_registry: Registry) -> None:
    rank0, rank1 = (codex_installed_registry.build("metric", "em") for _ in range(2))
    rank0.update(["a", "b"], ["a", "b"])
    rank1.update(["a", "b"], ["x", "y"])
    rank0.merge(rank1)
    assert (rank0.compute(), rank0.total) == ({"exact_match": 0.5}, 4)


def test_merge_refuses_different_normalize(codex_installed_registry: Registry, em: ExactMatch) -> None:
    with pytest.raises(ValueError, match="normalize"):
        em.merge(codex_installed_registry.build("metric", "em", {"normalize": True}))


def test_reset_clears_the_counts(em: ExactMatch) -> None:
    em.update(["a"], ["a"])
    em.reset()
    assert em.total == 0


def test_registered_through_the_test_fixtures(register_codex_plugin, codex_registry: Registry) -> None:
    register_codex_plugin(codex_models.plugin, name="models")
    metric = codex_registry.build("metric", "em")
    metric.update([1, 2], [1, 3])
    assert metric.compute() == {"exact_match": 0.5}


def test_scores_token_ids_and_text(em: ExactMatch) -> None:
    assert metric_inputs(em) == {"tokens", "text"}


def test_sample_stats_are_one_or_zero_per_prediction(em: ExactMatch) -> None:
    em.update([5, 6, 7], [5, 0, 7])
    assert em.sample_stats() == [1.0, 0.0, 1.0]


def test_compute_from_a_resample_of_the_sample_stats(em: ExactMatch) -> None:
    em.update(["a", "b", "c"], ["a", "x", "y"])
    stats = em.sample_stats()
    assert (em.compute_from(stats), em.compute_from([stats[0], stats[0]])) == (
        em.compute(), {"exact_match": 1.0})


def test_a_list_of_references_lists_acceptable_answers(codex_installed_registry: Registry) -> None:
    metric = codex_installed_registry.build("metric", "em", {"normalize": True})
    metric.update(["Paris", "Rome", "Oslo"], [["paris", "Paris, France"], ("Roma", "Milan"), "oslo"])
    assert metric.sample_stats() == [1.0, 0.0, 1.0]


def test_merge_keeps_both_ranks_sample_stats(codex_installed_registry: Registry) -> None:
    rank0, rank1 = (codex_installed_registry.build("metric", "em") for _ in range(2))
    rank0.update(["a"], ["a"])
    rank1.update(["b"], ["x"])
    rank0.merge(rank1)
    assert rank0.sample_stats() == [1.0, 0.0]


def test_reset_clears_the_sample_stats(em: ExactMatch) -> None:
    em.update(["a"], ["a"])
    em.reset()
    assert em.sample_stats() == []
