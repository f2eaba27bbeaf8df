"""codex_core.evaluation: task specs, predictions, bootstrap intervals and paired bootstrap;
the task kind in configs (trainer.eval_tasks, text metrics kept out of ``metrics:``)."""

from __future__ import annotations

import json
import math
import types

import pytest
from pydantic import BaseModel

from codex_core import hookimpl
from codex_core.config import load_config
from codex_core.config.components import validate_components
from codex_core.config.paths import ConfigPath
from codex_core.errors import CodexError, ConfigError
from codex_core.evaluation import (
    EvalConfig,
    MeanStats,
    TaskResult,
    check_predictions,
    paired_bootstrap,
    parse_task_option,
    read_predictions,
    resolve_task_paths,
)
from codex_core.runs import RunDir
from codex_core.testing import write_text


class Correct(MeanStats):
    """A mean metric over per-sample 0/1 values (``acc``)."""

    keys = ("acc",)
    inputs = "text"

    def update(self, predictions, references):
        self._rows += [{"acc": float(p == r)} for p, r in zip(predictions, references, strict=True)]


def result_of(flags: list[int]) -> TaskResult:
    metric = Correct()
    for i, flag in enumerate(flags):
        metric.update([i if flag else -1], [i])
    return TaskResult(ids=[str(i) for i in range(len(flags))], scorers=[metric])


# -- task specs ------------------------------------------------------------------------------
def test_a_task_option_splits_on_commas_outside_brackets_and_quotes():
    spec = parse_task_option('code-completion:n=10,k=[1, 5],problems=stdlib,stop=["a,b", "\\n"],label=cc')

    assert (spec.name, spec.label, spec.key) == ("code-completion", "cc", "cc")
    assert spec.params == {"n": 10, "k": [1, 5], "problems": "stdlib", "stop": ["a,b", "\n"]}


def test_a_task_option_without_params_is_the_bare_name():
    spec = parse_task_option("perplexity")

    assert (spec.name, spec.params, spec.key) == ("perplexity", {}, "perplexity")


@pytest.mark.parametrize(("text", "message"), [
    (":n=1", "has no task name"),
    ("perplexity:stride", "'stride' is not K=V"),
    ("perplexity:k=[1,2", "unbalanced"),
    ("perplexity:n=1,n=2", "sets 'n' twice"),
    ("perplexity:label=a/b", "plain name"),
])
def test_a_bad_task_option_is_one_line(text, message):
    with pytest.raises(CodexError, match=message) as error:
        parse_task_option(text)

    assert "\n" not in str(error.value)


class PathParams(BaseModel):
    path: ConfigPath
    n: int = 1


@pytest.fixture
def path_task(register_codex_plugin):
    plugin = types.SimpleNamespace(codex_register_tasks=hookimpl(
        lambda register: register("with-path", lambda params: params, config=PathParams)))
    register_codex_plugin(plugin, "eval-test")


def test_an_eval_config_resolves_task_paths_relative_to_its_file(tmp_path, path_task, codex_elsewhere):
    config = write_text(tmp_path / "conf" / "eval.yaml", """\
        tasks:
          - {name: with-path, label: first, params: {path: data/rows.jsonl}}
          - {name: with-path, params: {path: /abs/rows.jsonl, n: 2}}
        """)

    tasks = EvalConfig.load(config).tasks

    assert [t.params["path"] for t in tasks] == [str(tmp_path / "conf" / "data" / "rows.jsonl"), "/abs/rows.jsonl"]
    assert [t.key for t in tasks] == ["first", "with-path"]


def test_task_option_paths_are_relative_to_the_working_directory(path_task, codex_elsewhere):
    [spec] = resolve_task_paths([parse_task_option("with-path:path=rows.jsonl")])

    assert spec.params["path"] == str(codex_elsewhere / "rows.jsonl")


def test_an_eval_config_with_an_unknown_key_says_which(tmp_path):
    config = write_text(tmp_path / "eval.yaml", "taks: [{name: perplexity}]\n")

    with pytest.raises(CodexError, match=r"taks.*did you mean 'tasks'"):
        EvalConfig.load(config)


# -- predictions -----------------------------------------------------------------------------
def test_predictions_group_rows_by_id_as_strings(tmp_path):
    path = write_text(tmp_path / "samples.jsonl", "\n".join(json.dumps(r) for r in [
        {"task_id": 0, "completion": "a"}, {"task_id": "x/1", "completion": "b"}, {"task_id": 0, "completion": "c"},
    ]) + "\n")

    assert read_predictions(path) == {"0": ["a", "c"], "x/1": ["b"]}


def test_a_bad_prediction_row_names_file_and_line(tmp_path):
    path = write_text(tmp_path / "samples.jsonl", '{"task_id": 1, "completion": "a"}\n{"task_id": 2}\n')

    with pytest.raises(CodexError, match=r"samples.jsonl:2: a prediction needs 'task_id' and a string"):
        read_predictions(path)


@pytest.mark.parametrize(("predictions", "message"), [
    ({"a": ["x"], "b": ["y"], "zz": ["z"]}, "unknown problem ids: 'zz'"),
    ({"a": ["x"]}, "no predictions for 1 problem"),
    ({"a": ["x"], "b": ["y", "z"]}, "'a' has 1 predictions, fewer than 2"),
])
def test_predictions_must_cover_the_ids_exactly(predictions, message):
    with pytest.raises(CodexError, match=message):
        check_predictions(predictions, ["a", "b"], min_samples=2 if len(predictions) == 2 else 1)


# -- bootstrap -------------------------------------------------------------------------------
def test_compute_from_the_sample_stats_is_compute():
    result = result_of([1, 0, 1, 1])

    assert result.results() == {"acc": 0.75}
    assert result.scorers[0].compute_from(result.scorers[0].sample_stats()) == {"acc": 0.75}
    assert result.stats() == [[{"acc": 1.0}], [{"acc": 0.0}], [{"acc": 1.0}], [{"acc": 1.0}]]


def test_bootstrap_intervals_are_seeded_and_hold_the_point_value():
    import random

    from codex_core.evaluation import bootstrap_intervals

    class Score(MeanStats):
        keys = ("score",)

        def update(self, predictions, references):
            self._rows += [{"score": float(p)} for p in predictions]

    metric = Score()
    rng = random.Random(0)
    values = [rng.random() for _ in range(40)]
    metric.update(values, values)
    result = TaskResult(ids=[str(i) for i in range(40)], scorers=[metric])
    mean = sum(values) / len(values)

    first = bootstrap_intervals(result, resamples=500, seed=3)
    assert first == bootstrap_intervals(result, resamples=500, seed=3)
    assert first != bootstrap_intervals(result, resamples=500, seed=4)
    lo, hi = first["score"]
    assert lo < mean < hi and min(values) < lo and hi < max(values)
    assert bootstrap_intervals(result, resamples=0) == {}


def test_paired_bootstrap_sees_a_clear_improvement_and_no_change():
    a = result_of([0, 1] * 20)
    b = result_of([1, 1] * 20)

    better = paired_bootstrap(a.scorers, a.stats(), b.stats(), resamples=500, seed=0)["acc"]
    same = paired_bootstrap(a.scorers, a.stats(), a.stats(), resamples=500, seed=0)["acc"]

    assert (better.a, better.b, better.delta) == (0.5, 1.0, 0.5)
    assert better.ci[0] > 0 and better.p_value < 0.01
    assert (same.delta, same.ci, same.p_value) == (0.0, (0.0, 0.0), 1.0)


def test_two_scorers_reporting_one_key_is_an_error():
    result = TaskResult(ids=["0"], scorers=[Correct(), Correct()])
    for scorer in result.scorers:
        scorer.update([1], [1])

    with pytest.raises(CodexError, match="both report 'acc'"):
        result.results()


# -- configs ---------------------------------------------------------------------------------
def test_a_text_metric_in_a_run_configs_metrics_is_a_validation_error(register_codex_plugin):
    class Bleuish:
        inputs = "text"

    plugin = types.SimpleNamespace(codex_register_metrics=hookimpl(
        lambda register: register("texty", Bleuish)))
    register_codex_plugin(plugin, "metric-test")
    from codex_core.plugins import get_plugin_manager

    config = load_config(None, ["metrics=[texty]"]).config

    with pytest.raises(ConfigError, match=r"metrics\.0: metric 'texty' scores text"):
        validate_components(config, get_plugin_manager().registry)


def test_eval_tasks_need_distinct_labels():
    with pytest.raises(ConfigError, match="eval_tasks name perplexity more than once"):
        load_config(None, ["trainer.eval_tasks=[perplexity, {name: perplexity, params: {split: val}}]"])

    config = load_config(None, ["trainer.eval_tasks=[perplexity, {name: perplexity, label: val-ppl}]"]).config
    assert [t.key for t in config.trainer.eval_tasks] == ["perplexity", "val-ppl"]


def test_a_run_lists_its_evaluation_results(tmp_path):
    run = RunDir.create(tmp_path, "r")
    write_text(run.eval_dir / "step-00000010" / "perplexity.json",
               json.dumps({"results": {"loss": 2.0}, "ci": {"loss": [1.9, 2.1]}}))
    write_text(run.eval_dir / "step-00000010" / "perplexity.samples.ndjson", "{}\n")
    write_text(run.eval_dir / "step-00000010" / "torn.json", "{")

    [found] = run.evaluations()

    assert (found["label"], found["checkpoint"], found["results"]) == ("perplexity", "step-00000010", {"loss": 2.0})
    assert not math.isnan(found["ci"]["loss"][0])

