"""The text metrics (squad-f1, bleu, chrf, rouge-l, distinct-n, accuracy; exact-match on
text), built through the installed registry and checked against sacrebleu, rouge-score and
hand-computed values; their per-sample statistics drive the bootstrap intervals."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest

from codex_core.config.components import validate_components
from codex_core.errors import CodexError, ConfigError
from codex_core.evaluation import TaskResult, bootstrap_intervals
from codex_core.protocols import Metric, metric_inputs
from codex_core.registry import Registry

sacrebleu = pytest.importorskip("sacrebleu")
rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")

HYPOTHESES = [
    "The cat sat on the mat.",
    "A quick brown fox jumps over the lazy dog",
    "It is raining in Paris today.",
    "He went to the market to buy bread",
    "The results are shown in the table below.",
    "we propose a new method for training",
]
SINGLE = [
    "The cat is sitting on the mat.",
    "The quick brown fox jumped over the lazy dog",
    "Today it rains in Paris.",
    "He went to the shop to buy some bread",
    "The table below shows the results.",
    "we present a novel training method",
]
SECOND = [
    "A cat sat on the mat.",
    "A fast brown fox leaps over a lazy dog",
    "It is raining in Paris.",
    "He walked to the market for bread",
    "Results are in the table below.",
    "a new training method is proposed",
]
TEXT_METRICS = ["squad-f1", "bleu", "chrf", "rouge-l", "distinct-n"]


def build(registry: Registry, name: str, params: dict[str, Any] | None = None) -> Any:
    return registry.build("metric", name, params)


def scored(registry: Registry, name: str, predictions: list[Any], references: list[Any],
           params: dict[str, Any] | None = None) -> Any:
    metric = build(registry, name, params)
    metric.update(predictions, references)
    return metric


# -- every metric ---------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "inputs"), [
    ("squad-f1", {"text"}), ("bleu", {"text"}), ("chrf", {"text"}), ("rouge-l", {"text"}),
    ("distinct-n", {"text"}), ("accuracy", {"tokens", "text"}), ("exact-match", {"tokens", "text"}),
    ("em", {"tokens", "text"}),
])
def test_the_registry_builds_each_metric_by_its_name(codex_installed_registry: Registry, name: str,
                                                     inputs: set[str]) -> None:
    metric = build(codex_installed_registry, name)
    assert (isinstance(metric, Metric), metric_inputs(metric), callable(metric.sample_stats),
            callable(metric.compute_from)) == (True, inputs, True, True)


@pytest.mark.parametrize("name", [*TEXT_METRICS, "exact-match", "accuracy"])
def test_compute_from_the_json_sample_stats_equals_compute(codex_installed_registry: Registry, name: str) -> None:
    metric = build(codex_installed_registry, name)
    metric.update(HYPOTHESES[:3], SINGLE[:3])
    metric.update(HYPOTHESES[3:], [[a, b] for a, b in zip(SINGLE[3:], SECOND[3:], strict=True)])
    stats = json.loads(json.dumps(metric.sample_stats()))
    assert (len(stats), metric.compute_from(stats)) == (len(HYPOTHESES), metric.compute())


@pytest.mark.parametrize("name", TEXT_METRICS)
def test_merge_equals_one_metric_over_both_batches(codex_installed_registry: Registry, name: str) -> None:
    rank0 = scored(codex_installed_registry, name, HYPOTHESES[:2], SINGLE[:2])
    rank1 = scored(codex_installed_registry, name, HYPOTHESES[2:], SINGLE[2:])
    rank0.merge(rank1)
    assert rank0.compute() == scored(codex_installed_registry, name, HYPOTHESES, SINGLE).compute()


@pytest.mark.parametrize("name", TEXT_METRICS)
def test_reset_forgets_the_samples(codex_installed_registry: Registry, name: str) -> None:
    metric = scored(codex_installed_registry, name, HYPOTHESES, SINGLE)
    metric.reset()
    assert (metric.sample_stats(), all(math.isnan(v) for v in metric.compute().values())) == ([], True)


@pytest.mark.parametrize("name", TEXT_METRICS)
def test_a_batch_without_one_reference_per_prediction_is_a_value_error(codex_installed_registry: Registry,
                                                                        name: str) -> None:
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        build(codex_installed_registry, name).update(["a", "b"], ["a"])


@pytest.mark.parametrize("name", TEXT_METRICS)
def test_token_ids_are_not_text(codex_installed_registry: Registry, name: str) -> None:
    with pytest.raises(TypeError, match="scores text"):
        build(codex_installed_registry, name).update([3, 4], [3, 5])


# -- bleu and chrf ---------------------------------------------------------------------------
def test_bleu_equals_sacrebleu_corpus_bleu_with_one_reference(codex_installed_registry: Registry) -> None:
    metric = scored(codex_installed_registry, "bleu", HYPOTHESES, SINGLE)
    assert metric.compute() == {"bleu": sacrebleu.corpus_bleu(HYPOTHESES, [SINGLE]).score}


def test_bleu_equals_sacrebleu_corpus_bleu_with_two_references(codex_installed_registry: Registry) -> None:
    metric = scored(codex_installed_registry, "bleu", HYPOTHESES,
                    [[a, b] for a, b in zip(SINGLE, SECOND, strict=True)])
    assert metric.compute() == {"bleu": sacrebleu.corpus_bleu(HYPOTHESES, [SINGLE, SECOND]).score}


def test_bleu_with_different_numbers_of_references_equals_sacrebleus_padded_streams(
        codex_installed_registry: Registry) -> None:
    references = [[a, b] if i % 2 else a for i, (a, b) in enumerate(zip(SINGLE, SECOND, strict=True))]
    padded = [b if i % 2 else None for i, b in enumerate(SECOND)]
    metric = scored(codex_installed_registry, "bleu", HYPOTHESES, references)
    assert metric.compute() == {"bleu": sacrebleu.corpus_bleu(HYPOTHESES, [SINGLE, padded]).score}


def test_bleu_params_are_sacrebleus_options(codex_installed_registry: Registry) -> None:
    upper = [h.upper() for h in HYPOTHESES]
    metric = scored(codex_installed_registry, "bleu", upper, SINGLE,
                    {"tokenize": "char", "lowercase": True, "smooth_method": "floor"})
    expected = sacrebleu.corpus_bleu(upper, [SINGLE], tokenize="char", lowercase=True, smooth_method="floor")
    assert metric.compute() == {"bleu": expected.score}


def test_chrf_equals_sacrebleu_corpus_chrf(codex_installed_registry: Registry) -> None:
    metric = scored(codex_installed_registry, "chrf", HYPOTHESES, SINGLE)
    assert metric.compute() == {"chrf": sacrebleu.corpus_chrf(HYPOTHESES, [SINGLE]).score}


def test_chrf_plus_plus_with_two_references_equals_sacrebleu(codex_installed_registry: Registry) -> None:
    metric = scored(codex_installed_registry, "chrf", HYPOTHESES, [[a, b] for a, b in zip(SINGLE, SECOND, strict=True)],
                    {"word_order": 2, "char_order": 4, "beta": 1})
    expected = sacrebleu.corpus_chrf(HYPOTHESES, [SINGLE, SECOND], word_order=2, char_order=4, beta=1)
    assert metric.compute() == {"chrf": expected.score}


def test_chrf_with_different_numbers_of_references_equals_sacrebleus_padded_streams(
        codex_installed_registry: Registry) -> None:
    references = [[a, b] if i < 2 else a for i, (a, b) in enumerate(zip(SINGLE, SECOND, strict=True))]
    padded = [b if i < 2 else None for i, b in enumerate(SECOND)]
    metric = scored(codex_installed_registry, "chrf", HYPOTHESES, references)
    assert metric.compute() == {"chrf": sacrebleu.corpus_chrf(HYPOTHESES, [SINGLE, padded]).score}


def test_bleu_statistics_are_sacrebleus_sentence_counts(codex_installed_registry: Registry) -> None:
    # "the cat sat" against "the cat sat on": hypothesis length 3, reference length 4,
    # matches 3, 2, 1, 0 of totals 3, 2, 1, 0 (1- to 4-grams)
    metric = scored(codex_installed_registry, "bleu", ["the cat sat"], ["the cat sat on"])
    assert metric.sample_stats() == [[3, 4, 3, 2, 1, 0, 3, 2, 1, 0]]


def test_bleu_of_a_resample_sums_the_drawn_samples_statistics(codex_installed_registry: Registry) -> None:
    metric = scored(codex_installed_registry, "bleu", HYPOTHESES, SINGLE)
    stats = metric.sample_stats()
    drawn = [0, 0, 3, 5]
    expected = sacrebleu.corpus_bleu([HYPOTHESES[i] for i in drawn], [[SINGLE[i] for i in drawn]]).score
    assert metric.compute_from([stats[i] for i in drawn]) == {"bleu": expected}


def test_merging_bleu_with_other_params_is_refused(codex_installed_registry: Registry) -> None:
    with pytest.raises(ValueError, match="different params"):
        build(codex_installed_registry, "bleu").merge(build(codex_installed_registry, "bleu", {"lowercase": True}))


# -- squad-f1 and exact-match ----------------------------------------------------------------
def test_squad_f1_on_hand_computed_cases(codex_installed_registry: Registry) -> None:
    # 1. "The cat sat on the mat." vs "a cat sat on a mat": both normalise to
    #    "cat sat on mat" -> F1 1.0
    # 2. "Paris, France" -> [paris, france]; vs "paris": 1 shared, P 1/2, R 1/1,
    #    F1 = 2 * 1/2 * 1 / (3/2) = 2/3; vs "the city of Paris" -> [city, of, paris]:
    #    P 1/2, R 1/3, F1 = 2 * 1/6 / (5/6) = 2/5; best 2/3
    # 3. "blue" vs "red": nothing shared -> 0
    # 4. "the big red ball" -> [big, red, ball] vs "a red ball" -> [red, ball]:
    #    P 2/3, R 1, F1 = 2 * 2/3 / (5/3) = 4/5
    # mean: (1 + 2/3 + 0 + 4/5) / 4 = (15/15 + 10/15 + 12/15) / 4 = 37/60
    metric = scored(codex_installed_registry, "squad-f1",
                    ["The cat sat on the mat.", "Paris, France", "blue", "the big red ball"],
                    ["a cat sat on a mat", ["paris", "the city of Paris"], "red", "a red ball"])
    assert ([round(row["f1"], 12) for row in metric.sample_stats()], metric.compute()) == (
        [1.0, round(2 / 3, 12), 0.0, 0.8], {"f1": pytest.approx(37 / 60, rel=1e-12)})


def test_squad_exact_match_on_hand_computed_cases(codex_installed_registry: Registry) -> None:
    # SQuAD normalisation: "The Eiffel Tower!" -> "eiffel tower" == "eiffel tower" (1);
    # "Paris, France" -> "paris france", not "paris" nor "city of paris" (0);
    # "an apple" -> "apple" == "Apple." -> "apple" (1); "blue" != "red" (0). 2 of 4.
    metric = scored(codex_installed_registry, "exact-match",
                    ["The Eiffel Tower!", "Paris, France", "an apple", "blue"],
                    ["eiffel tower", ["paris", "the city of Paris"], "Apple.", "red"], {"normalize": "squad"})
    assert (metric.sample_stats(), metric.compute()) == ([1.0, 0.0, 1.0, 0.0], {"exact_match": 0.5})


# -- rouge-l ---------------------------------------------------------------------------------
def test_rouge_l_equals_rouge_scores_f_measure(codex_installed_registry: Registry) -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = [scorer.score(ref, hyp)["rougeL"].fmeasure for hyp, ref in zip(HYPOTHESES, SINGLE, strict=True)]
    metric = scored(codex_installed_registry, "rouge-l", HYPOTHESES, SINGLE)
    assert metric.compute() == {"rouge_l": pytest.approx(math.fsum(expected) / len(expected), rel=1e-12)}


def test_rouge_l_takes_the_best_reference(codex_installed_registry: Registry) -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = max(scorer.score(ref, HYPOTHESES[1])["rougeL"].fmeasure for ref in (SINGLE[1], SECOND[1]))
    metric = scored(codex_installed_registry, "rouge-l", [HYPOTHESES[1]], [[SECOND[1], SINGLE[1]]])
    assert metric.compute() == {"rouge_l": expected}


# -- distinct-n ------------------------------------------------------------------------------
def test_distinct_n_on_a_hand_case(codex_installed_registry: Registry) -> None:
    # unigrams: the cat sat | the cat ran -> 6, of which {the, cat, sat, ran} 4 differ: 4/6
    # bigrams: (the cat) (cat sat) | (the cat) (cat ran) -> 4, 3 differ: 3/4
    metric = scored(codex_installed_registry, "distinct-n", ["the cat sat", "the cat ran"], ["", ""])
    assert metric.compute() == {"distinct_1": 4 / 6, "distinct_2": 3 / 4}


def test_distinct_n_of_a_resample_is_over_the_union_of_the_drawn_samples(codex_installed_registry: Registry) -> None:
    # the first sample drawn twice: 6 unigrams, 3 differ (1/2); 4 bigrams, 2 differ (1/2)
    metric = scored(codex_installed_registry, "distinct-n", ["the cat sat", "the cat ran"], ["", ""])
    first = metric.sample_stats()[0]
    assert metric.compute_from([first, first]) == {"distinct_1": 0.5, "distinct_2": 0.5}


def test_distinct_n_without_bigrams_is_zero(codex_installed_registry: Registry) -> None:
    metric = scored(codex_installed_registry, "distinct-n", ["yes", "yes", ""], ["", "", ""])
    assert metric.compute() == {"distinct_1": 0.5, "distinct_2": 0.0}


# -- accuracy --------------------------------------------------------------------------------
def test_accuracy_reports_under_its_key(codex_installed_registry: Registry) -> None:
    metric = scored(codex_installed_registry, "accuracy", [0, 2, 1, 3], [0, 1, 1, 3], {"key": "acc_norm"})
    assert (metric.compute(), metric.sample_stats()) == ({"acc_norm": 0.75}, [1.0, 0.0, 1.0, 1.0])


def test_accuracy_key_must_not_be_empty(codex_installed_registry: Registry) -> None:
    with pytest.raises(CodexError, match="key"):
        build(codex_installed_registry, "accuracy", {"key": ""})


# -- bootstrap intervals ---------------------------------------------------------------------
def task_result(registry: Registry) -> TaskResult:
    predictions = HYPOTHESES * 2
    references = [[a, b] for a, b in zip(SINGLE, SECOND, strict=True)] + SINGLE
    scorers = [build(registry, name) for name in (*TEXT_METRICS, "exact-match")]
    for scorer in scorers:
        for prediction, reference in zip(predictions, references, strict=True):
            scorer.update([prediction], [reference])
    return TaskResult(ids=[str(i) for i in range(len(predictions))], scorers=scorers)


def test_the_same_seed_gives_the_same_intervals_and_another_seed_others(codex_installed_registry: Registry) -> None:
    result = task_result(codex_installed_registry)
    first, again = (bootstrap_intervals(result, resamples=200, seed=3) for _ in range(2))
    other = bootstrap_intervals(result, resamples=200, seed=4)
    assert (sorted(first), first == again, first != other) == (
        ["bleu", "chrf", "distinct_1", "distinct_2", "exact_match", "f1", "rouge_l"], True, True)


def test_each_interval_contains_the_point_value(codex_installed_registry: Registry) -> None:
    result = task_result(codex_installed_registry)
    values = result.results()
    intervals = bootstrap_intervals(result, resamples=200, seed=0)
    outside = {key: (lo, values[key], hi) for key, (lo, hi) in intervals.items() if not lo <= values[key] <= hi}
    assert outside == {}


# -- run configs and optional libraries ------------------------------------------------------
@pytest.mark.parametrize("name", TEXT_METRICS)
def test_a_text_metric_in_a_run_configs_metrics_is_a_validation_error(codex_installed_registry: Registry,
                                                                       train_config: Any, name: str) -> None:
    _, config = train_config(metrics=[name])
    with pytest.raises(ConfigError, match=f"metrics.0: metric '{name}' scores text"):
        validate_components(config, codex_installed_registry, strict=True)


@pytest.mark.parametrize("name", ["exact-match", "accuracy"])
def test_token_metrics_validate_in_a_run_config(codex_installed_registry: Registry, train_config: Any,
                                                name: str) -> None:
    _, config = train_config(metrics=[name])
    assert validate_components(config, codex_installed_registry, strict=True) == []


@pytest.mark.parametrize(("name", "module"), [("bleu", "sacrebleu"), ("chrf", "sacrebleu"),
                                              ("rouge-l", "rouge_score")])
def test_a_missing_optional_library_is_a_one_line_error_naming_the_extra(
        codex_installed_registry: Registry, monkeypatch: pytest.MonkeyPatch, name: str, module: str) -> None:
    for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, loaded, None)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(CodexError) as caught:
        build(codex_installed_registry, name)
    assert (caught.value.hint, "\n" in str(caught.value)) == ("pip install 'codex-models[eval]'", False)


def test_importing_the_metric_modules_imports_no_optional_or_heavy_library() -> None:
    code = ("import sys\n"
            "import codex_models.evaluation.metrics.exact_match, codex_models.evaluation.metrics.squad\n"
            "import codex_models.evaluation.metrics.sacrebleu_metrics, codex_models.evaluation.metrics.rouge\n"
            "import codex_models.evaluation.metrics.distinct, codex_models.evaluation.metrics.accuracy\n"
            "print(sorted(m for m in ('sacrebleu', 'rouge_score', 'nltk', 'torch') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
