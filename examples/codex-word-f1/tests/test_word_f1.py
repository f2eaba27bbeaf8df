"""Testing a plugin with the codex_core.testing fixtures (no install needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from codex_word_f1 import plugin


def test_word_f1_through_the_registry(register_codex_plugin, codex_registry):
    register_codex_plugin(plugin, "word-f1")
    metric = codex_registry.build("metric", "f1", {"lowercase": True})

    metric.update(["The cat sat", "a b"], ["the cat", "c d"])

    assert metric.compute() == pytest.approx({"word_f1": (0.8 + 0.0) / 2})


def test_merge_combines_two_ranks(register_codex_plugin, codex_registry):
    register_codex_plugin(plugin, "word-f1")
    rank0, rank1 = (codex_registry.build("metric", "word-f1") for _ in range(2))
    rank0.update(["x"], ["x"])
    rank1.update(["y"], ["z"])

    rank0.merge(rank1)

    assert rank0.compute() == {"word_f1": 0.5}


def test_it_scores_text_and_gives_per_sample_statistics(register_codex_plugin, codex_registry):
    from codex_core.protocols import metric_inputs

    register_codex_plugin(plugin, "word-f1")
    metric = codex_registry.build("metric", "word-f1", {"lowercase": False})
    metric.update(["The cat", "x", "a b"], ["the cat", "x", ["c", "a b", "a"]])

    assert metric_inputs(metric) == {"text"}
    assert metric.sample_stats() == [0.5, 1.0, 1.0]  # the best of several references counts
    assert metric.compute() == metric.compute_from(metric.sample_stats()) == {"word_f1": 2.5 / 3}
