"""The ``generation`` task: jsonl prompts continued by the model (or given predictions),
scored against references by the text metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from codex_core.testing import write_jsonl

ROWS = [
    {"prompt": "Q: the capital of France?\nA:", "reference": " Paris"},
    {"prompt": "Q: what barks?\nA:", "references": ["a dog", "the dog"]},
    {"id": "q3", "prompt": "Q: who sat on the mat?\nA:", "reference": "the cat sat on the mat"},
]
GIVEN = {"0": [" Paris"], "1": ["dog"], "q3": ["the cat sat"]}


def evaluate(context: Any, lm: Any, params: dict[str, Any], **request: Any) -> Any:
    from codex_core.evaluation import EvalRequest

    task = context.build("task", "generation", params)
    return task.evaluate(lm, EvalRequest(context=context, **request))


def test_given_predictions_score_as_computed_by_hand_and_by_sacrebleu(tmp_path: Path, context: Any) -> None:
    import sacrebleu

    result = evaluate(context, None, {"path": str(write_jsonl(tmp_path / "gen.jsonl", ROWS))}, predictions=GIVEN)

    assert result.ids == ["0", "1", "q3"]
    values = result.results()
    # exact match: " Paris" == " Paris"; "dog" is neither "a dog" nor "the dog"; "the cat sat" is not the sentence
    assert values["exact_match"] == pytest.approx(1 / 3)
    # SQuAD F1: "paris" 1; "dog" vs "a dog" (articles dropped) 1; "cat sat" vs "cat sat on mat":
    # precision 2/2, recall 2/4, F1 = 2 * 1 * 0.5 / 1.5 = 2/3; mean (1 + 1 + 2/3) / 3 = 8/9
    assert values["f1"] == pytest.approx(8 / 9)
    hypotheses = [" Paris", "dog", "the cat sat"]
    streams = [[" Paris", "a dog", "the cat sat on the mat"], [None, "the dog", None]]
    assert values["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hypotheses, streams).score)
    assert values["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hypotheses, streams).score)
    first = result.samples[0]
    assert {k: first[k] for k in ("id", "prompt", "output", "references", "exact_match", "f1")} == {
        "id": "0", "prompt": ROWS[0]["prompt"], "output": " Paris", "references": [" Paris"],
        "exact_match": 1.0, "f1": 1.0}


def test_metrics_are_chosen_by_name_or_with_params(tmp_path: Path, context: Any) -> None:
    params = {"path": str(write_jsonl(tmp_path / "gen.jsonl", ROWS)),
              "metrics": [{"name": "exact-match", "params": {"normalize": "squad"}}, "bleu"]}
    result = evaluate(context, None, params, predictions=GIVEN)
    # with SQuAD normalisation "dog" matches "a dog"
    assert set(result.results()) == {"exact_match", "bleu"}
    assert result.results()["exact_match"] == pytest.approx(2 / 3)


def test_rows_without_ids_are_numbered_from_zero_skipping_blank_lines(tmp_path: Path, context: Any) -> None:
    path = write_jsonl(tmp_path / "gen.jsonl", [ROWS[0], "", ROWS[0], {"id": 7, **ROWS[0]}])
    result = evaluate(context, None, {"path": str(path), "metrics": ["exact-match"]},
                      predictions={"0": ["a"], "1": ["b"], "7": ["c"]})
    assert result.ids == ["0", "1", "7"]


@pytest.mark.parametrize(("bad", "message"), [
    ({"reference": "x"}, "the row has no 'prompt'"),
    ({"prompt": 3, "reference": "x"}, "'prompt' must be a string"),
    ({"prompt": "p"}, "needs 'reference' .* or 'references'"),
    ({"prompt": "p", "reference": "x", "references": ["x"]}, "exactly one of them"),
    ({"prompt": "p", "references": []}, "'references' must be a non-empty list of strings"),
    ({"prompt": "p", "references": ["x", 2]}, r"references\[1\] must be a string"),
    ({"id": [1], "prompt": "p", "reference": "x"}, "'id' must be a string or an integer"),
    ({"id": "0", "prompt": "p", "reference": "x"}, "id '0' is also the id of"),
    ('{"prompt": "p", "reference": ', "not JSON"),
    ("[1, 2]", "a row is a JSON object"),
])
def test_a_bad_row_names_its_file_and_line(tmp_path: Path, context: Any, bad: Any, message: str) -> None:
    from codex_core.errors import CodexError

    path = write_jsonl(tmp_path / "gen.jsonl", [ROWS[0], bad])
    with pytest.raises(CodexError, match=f"{re.escape(str(path))}:2: .*{message}"):
        evaluate(context, None, {"path": str(path)}, predictions={"0": ["x"], "1": ["y"]})


def test_an_empty_or_missing_file_is_an_error(tmp_path: Path, context: Any) -> None:
    from codex_core.errors import CodexError

    empty = write_jsonl(tmp_path / "gen.jsonl", [""])
    with pytest.raises(CodexError, match="has no rows"):
        evaluate(context, None, {"path": str(empty)}, predictions={"0": ["x"]})
    with pytest.raises(CodexError, match="does not exist"):
        evaluate(context, None, {"path": str(tmp_path / "nowhere.jsonl")}, predictions={"0": ["x"]})


@pytest.mark.parametrize(("given", "message"), [
    ({**GIVEN, "q4": ["x"]}, "predictions for unknown row ids: 'q4'"),
    ({"0": ["x"], "1": ["y"]}, r"no predictions for 1 row\(s\): 'q3'"),
    ({**GIVEN, "1": ["dog", "a dog"]}, "row '1' has 2 predictions; the generation task scores exactly one"),
])
def test_predictions_must_be_one_per_row(tmp_path: Path, context: Any, given: dict[str, list[str]],
                                         message: str) -> None:
    from codex_core.errors import CodexError

    with pytest.raises(CodexError, match=message):
        evaluate(context, None, {"path": str(write_jsonl(tmp_path / "gen.jsonl", ROWS))}, predictions=given)


def test_a_metric_that_does_not_score_text_is_an_error(tmp_path: Path, add_plugin: Any,
                                                       codex_plugin_manager: Any) -> None:
    from codex_core import hookimpl
    from codex_core.context import BuildContext
    from codex_core.errors import CodexError

    class TokenAccuracy:
        inputs = "tokens"

        def update(self, predictions: Any, references: Any) -> None: ...
        def compute(self) -> dict[str, float]: return {}
        def merge(self, other: Any) -> None: ...
        def reset(self) -> None: ...

    class Plugin:
        @hookimpl
        def codex_register_metrics(self, register: Any) -> None:
            register("token-acc", TokenAccuracy)

    add_plugin(Plugin())
    context = BuildContext(registry=codex_plugin_manager.registry)
    with pytest.raises(CodexError, match="metric 'token-acc' scores token ids, not text"):
        context.build("task", "generation", {"path": str(tmp_path / "gen.jsonl"), "metrics": ["token-acc"]})


def test_an_eval_config_path_is_relative_to_the_config_file(tmp_path: Path, codex_cli: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "evals"
    folder.mkdir()
    write_jsonl(folder / "gen.jsonl", ROWS)
    (folder / "eval.yaml").write_text(
        "tasks: [{name: generation, params: {path: gen.jsonl, metrics: [exact-match]}}]\n", encoding="utf-8")
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"task_id": k, "completion": v[0]} for k, v in GIVEN.items()])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = codex_cli("eval", "-c", str(folder / "eval.yaml"), "--predictions", str(preds), "--json")
    assert code == 0, err
    assert json.loads(out)["results"]["generation"]["exact_match"] == pytest.approx(1 / 3)


# -- with the shared trained run's model --------------------------------------------------------
@pytest.fixture(scope="module")
def lm(eval_run: Path) -> Any:
    from codex_models.evaluation.lm import HFLanguageModel

    return HFLanguageModel.from_dir(eval_run / "checkpoints" / "step-00000030", device="cpu")


def test_the_model_continues_each_prompt_once_cut_at_the_first_newline(tmp_path: Path, context: Any,
                                                                       lm: Any) -> None:
    rows = [{"prompt": "def f(x", "reference": "):"}, {"prompt": "for x in ", "reference": "items:"},
            {"prompt": "return ", "references": ["x", "total"]}]
    result = evaluate(context, lm, {"path": str(write_jsonl(tmp_path / "gen.jsonl", rows)), "max_new_tokens": 12})

    expected = [texts[0] for texts in lm.generate([r["prompt"] for r in rows], max_new_tokens=12, stop=["\n"])]
    assert [s["output"] for s in result.samples] == expected
    assert all("\n" not in text for text in expected)
    assert all(0.0 <= result.results()[key] <= 1.0 for key in ("exact_match", "f1"))
    assert all(0.0 <= result.results()[key] <= 100.0 for key in ("bleu", "chrf"))


def test_a_prompt_longer_than_the_context_is_an_error_naming_the_row(tmp_path: Path, context: Any,
                                                                     lm: Any) -> None:
    from codex_core.errors import CodexError

    path = write_jsonl(tmp_path / "gen.jsonl", [ROWS[0], {"prompt": "x " * lm.context_length, "reference": "y"}])
    with pytest.raises(CodexError, match=f"{re.escape(str(path))}:2: row '1' has a prompt of .* tokens"):
        evaluate(context, lm, {"path": str(path)})
