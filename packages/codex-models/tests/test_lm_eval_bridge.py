"""The ``lm-eval`` task: EleutherAI's harness on a local task YAML, offline, on the shared
trained run's checkpoint, agreeing with the built-in ``multiple-choice`` task."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lm_eval")

ROWS = [
    {"context": "def f(x", "choices": [")", " y", ":"], "label": 0},
    {"context": "return ", "choices": ["x", "total", "items"], "label": 1},
    {"context": "for x in ", "choices": ["items", "value", "("], "label": 0},
    {"context": "if x", "choices": [":", " else", " = y"], "label": 0},
    {"context": "", "choices": ["def", "x", "return"], "label": 0},
    {"context": "total = ", "choices": ["total + x", "(", "value"], "label": 2},
]

# process_docs runs inside the harness: it fails the task unless the hub and datasets are offline there.
UTILS = '''
import os


def offline_docs(dataset):
    assert os.environ.get("HF_HUB_OFFLINE") == "1" and os.environ.get("HF_DATASETS_OFFLINE") == "1"
    return dataset
'''


def write_task(folder: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    """A multiple-choice task YAML over a local jsonl: the choice follows the context with no
    delimiter, as the built-in multiple-choice task scores it."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{name}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "utils.py").write_text(UTILS, encoding="utf-8")
    (folder / f"{name}.yaml").write_text("\n".join([
        f"task: {name}",
        "dataset_path: json",
        f"dataset_kwargs: {{data_files: {{test: {json.dumps(str(data))}}}}}",
        "test_split: test",
        "process_docs: !function utils.offline_docs",
        "output_type: multiple_choice",
        'doc_to_text: "{{context}}"',
        'doc_to_choice: "{{choices}}"',
        "doc_to_target: label",
        'target_delimiter: ""',
        "metric_list: [{metric: acc}, {metric: acc_norm}]",
    ]) + "\n", encoding="utf-8")
    return data


@pytest.fixture(scope="module")
def lm(eval_run: Path) -> Any:
    from codex_models.evaluation.lm import HFLanguageModel

    return HFLanguageModel.from_dir(eval_run / "checkpoints" / "step-00000030", device="cpu")


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The datasets library's cache under tmp_path (it keeps the prepared json there)."""
    import datasets

    cache = tmp_path / "hf-datasets"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    return cache


def run(context: Any, lm: Any, task: str, params: dict[str, Any], **request: Any) -> Any:
    from codex_core.evaluation import EvalRequest

    return context.build("task", task, params).evaluate(lm, EvalRequest(context=context, **request))


def test_lm_eval_acc_equals_the_multiple_choice_task(tmp_path: Path, lm: Any, context: Any, hf_cache: Path) -> None:
    from codex_core.evaluation import bootstrap_intervals

    data = write_task(tmp_path / "tasks", "codex_mc", ROWS)
    bridged = run(context, lm, "lm-eval", {"tasks": ["codex_mc"], "include_path": str(tmp_path / "tasks")})
    builtin = run(context, lm, "multiple-choice", {"path": str(data)})

    assert bridged.results()["acc"] == builtin.results()["acc"]
    assert bridged.results()["acc_norm"] == builtin.results()["acc_norm"]  # ASCII choices: bytes = characters
    assert bridged.ids == [f"codex_mc/{i}" for i in range(len(ROWS))]
    for ours, theirs in zip(builtin.samples, bridged.samples, strict=True):
        assert [ll for ll, _ in theirs["output"]] == pytest.approx(ours["loglikelihoods"], abs=1e-4)
    assert set(bootstrap_intervals(bridged, resamples=50)) == {"acc", "acc_norm"}
    assert "HF_HUB_OFFLINE" not in os.environ and "HF_DATASETS_OFFLINE" not in os.environ


def test_several_tasks_prefix_their_keys_and_max_samples_limit_them(tmp_path: Path, lm: Any, context: Any,
                                                                     hf_cache: Path) -> None:
    write_task(tmp_path / "tasks", "mc_a", ROWS)
    write_task(tmp_path / "tasks", "mc_b", ROWS[::-1])
    lm.model.train()
    try:
        result = run(context, lm, "lm-eval", {"tasks": ["mc_a", "mc_b"], "include_path": str(tmp_path / "tasks")},
                     max_samples=2)
        assert lm.model.training  # lm-eval's HFLM switched it to eval mode; put back
    finally:
        lm.model.eval()
    assert result.ids == ["mc_a/0", "mc_a/1", "mc_b/0", "mc_b/1"]
    assert set(result.results()) == {"mc_a/acc", "mc_a/acc_norm", "mc_b/acc", "mc_b/acc_norm"}
    hits = [s["acc"] for s in result.samples if s["task"] == "mc_b"]
    assert result.results()["mc_b/acc"] == sum(hits) / len(hits)


def test_collect_keeps_lm_evals_values_and_intervals_only_for_means() -> None:
    """Filter suffixes and stderr keys go; a metric lm-eval does not average over documents
    (a perplexity) is reported as lm-eval computed it, without per-document statistics."""
    from codex_core.evaluation import bootstrap_intervals
    from codex_models.evaluation.tasks.lm_eval_results import collect

    def sample(doc_id: int, hit: float, ll: float, words: int) -> dict[str, Any]:
        return {"doc_id": doc_id, "filter": "none", "arguments": [["ctx", "cont"]], "filtered_resps": [ll],
                "target": "t", "metrics": ["acc", "word_perplexity"], "acc": hit, "word_perplexity": [ll, words]}

    results = {"results": {"wiki": {"alias": "wiki", "acc,none": 0.5, "acc_stderr,none": 0.3,
                                    "word_perplexity,none": 12.5, "word_perplexity_stderr,none": "N/A"}},
               "samples": {"wiki": [sample(1, 0.0, -3.0, 2), sample(0, 1.0, -2.0, 1)]}}
    result = collect(results)
    assert result.ids == ["wiki/0", "wiki/1"]
    assert result.results() == {"acc": 0.5, "word_perplexity": 12.5}
    assert set(bootstrap_intervals(result, resamples=20)) == {"acc"}


def test_given_predictions_are_an_error(tmp_path: Path, context: Any) -> None:
    from codex_core.errors import CodexError

    (tmp_path / "tasks").mkdir()
    with pytest.raises(CodexError, match="cannot score given predictions"):
        run(context, None, "lm-eval", {"tasks": ["codex_mc"], "include_path": str(tmp_path / "tasks")},
            predictions={"0": ["x"]})


def test_an_include_path_that_is_not_a_folder_is_an_error(tmp_path: Path, context: Any) -> None:
    from codex_core.errors import CodexError

    with pytest.raises(CodexError, match="is not a folder"):
        context.build("task", "lm-eval", {"tasks": ["x"], "include_path": str(tmp_path / "nowhere")})


def test_without_lm_eval_installed_the_hint_names_the_extra(context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from codex_core.errors import CodexError

    monkeypatch.setitem(sys.modules, "lm_eval", None)  # find_spec: not installed
    with pytest.raises(CodexError) as caught:
        context.build("task", "lm-eval", {"tasks": ["hellaswag"]})
    assert "pip install 'codex-models[lm-eval]'" in str(caught.value)


@pytest.mark.slow
def test_an_unknown_task_is_an_error_with_a_suggestion(tmp_path: Path, lm: Any, context: Any) -> None:
    from codex_core.errors import CodexError

    write_task(tmp_path / "tasks", "codex_mc", ROWS)
    with pytest.raises(CodexError, match="unknown lm-eval task 'codex_mcc'; did you mean 'codex_mc'"):
        run(context, lm, "lm-eval", {"tasks": ["codex_mcc"], "include_path": str(tmp_path / "tasks")})


def test_data_that_is_not_local_is_a_one_line_error(tmp_path: Path, lm: Any, context: Any, hf_cache: Path) -> None:
    from codex_core.errors import CodexError

    data = write_task(tmp_path / "tasks", "codex_mc", ROWS)
    data.unlink()
    with pytest.raises(CodexError, match="lm-eval could not read the data of codex_mc") as caught:
        run(context, lm, "lm-eval", {"tasks": ["codex_mc"], "include_path": str(tmp_path / "tasks")})
    assert "offline" in (caught.value.hint or "")
