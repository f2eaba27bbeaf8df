"""The ``multiple-choice`` task on the shared trained run's checkpoint: the chosen index is
the argmax of the model's log-likelihoods, ``acc_norm`` divides them by UTF-8 bytes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from codex_core.testing import write_jsonl

ROWS = [
    {"id": "open", "context": "def f(x", "choices": [")", " y", ":"], "label": 0},
    {"context": "return ", "choices": ["x", "total", "items"], "label": 1},
    {"context": "for x in ", "choices": ["items", "value", "("], "label": 0},
    {"context": "", "choices": ["def", "x", "return"], "label": 0},
    {"id": 12, "context": "total = ", "choices": ["total + x", "(", "value"], "label": 2},
]


@pytest.fixture(scope="module")
def lm(eval_run: Path) -> Any:
    from codex_models.evaluation.lm import HFLanguageModel

    return HFLanguageModel.from_dir(eval_run / "checkpoints" / "step-00000030", device="cpu")


def evaluate(context: Any, lm: Any, path: Path, **request: Any) -> Any:
    from codex_core.evaluation import EvalRequest

    task = context.build("task", "multiple-choice", {"path": str(path)})
    return task.evaluate(lm, EvalRequest(context=context, **request))


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))


def test_acc_is_the_fraction_whose_most_likely_choice_is_the_label(tmp_path: Path, lm: Any, context: Any) -> None:
    result = evaluate(context, lm, write_jsonl(tmp_path / "mc.jsonl", ROWS))

    assert result.ids == ["open", "1", "2", "3", "12"]
    direct = [[ll for ll, _ in lm.loglikelihood([(r["context"], c) for c in r["choices"]])] for r in ROWS]
    for sample, lls in zip(result.samples, direct, strict=True):
        assert sample["loglikelihoods"] == pytest.approx(lls, abs=1e-5)
    preds = [argmax(lls) for lls in direct]
    norms = [argmax([ll / len(c.encode()) for ll, c in zip(lls, r["choices"], strict=True)])
             for lls, r in zip(direct, ROWS, strict=True)]
    assert [s["pred"] for s in result.samples] == preds
    assert result.results() == {
        "acc": pytest.approx(sum(p == r["label"] for p, r in zip(preds, ROWS, strict=True)) / len(ROWS)),
        "acc_norm": pytest.approx(sum(p == r["label"] for p, r in zip(norms, ROWS, strict=True)) / len(ROWS)),
    }
    assert set(result.samples[0]) == {"id", "context", "choices", "label", "loglikelihoods", "pred", "pred_norm"}


def test_acc_norm_divides_by_utf8_bytes_not_characters(tmp_path: Path, lm: Any, context: Any) -> None:
    """"é" is one character and two bytes: pair it with an ASCII choice whose order against
    it differs per character and per byte, and the task follows the bytes."""
    wide, context_text = "é", "x = "
    pool = ["x", "zz", "qq", ")(", "value", "def", "::", "zzz", "items", "total"]
    lls = dict(zip([wide, *pool], [ll for ll, _ in lm.loglikelihood([(context_text, c) for c in [wide, *pool]])],
                   strict=True))
    per_char = {c: lls[c] / len(c) for c in lls}
    per_byte = {c: lls[c] / len(c.encode()) for c in lls}
    narrow = next((c for c in pool if (per_char[wide] > per_char[c]) != (per_byte[wide] > per_byte[c])), None)
    assert narrow is not None, f"no ASCII choice tells bytes from characters here: {lls}"
    by_bytes = 0 if per_byte[wide] > per_byte[narrow] else 1

    rows = [{"context": context_text, "choices": [wide, narrow], "label": by_bytes}]
    result = evaluate(context, lm, write_jsonl(tmp_path / "mc.jsonl", rows))
    assert result.samples[0]["pred_norm"] == by_bytes
    assert result.results()["acc_norm"] == 1.0


def test_max_samples_scores_the_first_rows(tmp_path: Path, lm: Any, context: Any) -> None:
    result = evaluate(context, lm, write_jsonl(tmp_path / "mc.jsonl", ROWS), max_samples=2)
    assert result.ids == ["open", "1"] and len(result.samples) == 2


@pytest.mark.parametrize(("bad", "message"), [
    ('{"context": "a", "choices": ["b", "c"], "label": 2}', "label 2 is not the index of one of the 2 choices"),
    ('{"context": "a", "choices": ["b", "c"], "label": "b"}', "'label' must be the index"),
    ('{"context": "a", "choices": [], "label": 0}', "'choices' must be a non-empty list of strings"),
    ('{"context": "a", "choices": ["b", ""], "label": 0}', r"choices\[1\] is empty"),
    ('{"choices": ["b", "c"], "label": 0}', "the row has no 'context'"),
    ('{"context": "a", "choices": ["b"], "label": 0', "not JSON"),
    ('{"id": "open", "context": "a", "choices": ["b"], "label": 0}', "id 'open' is also the id of"),
])
def test_a_bad_row_names_its_file_and_line(tmp_path: Path, lm: Any, context: Any, bad: str, message: str) -> None:
    from codex_core.errors import CodexError

    path = write_jsonl(tmp_path / "mc.jsonl", [ROWS[0], bad])
    with pytest.raises(CodexError, match=f"{re.escape(str(path))}:2: .*{message}"):
        evaluate(context, lm, path)


def test_an_empty_file_is_an_error(tmp_path: Path, lm: Any, context: Any) -> None:
    from codex_core.errors import CodexError

    path = tmp_path / "mc.jsonl"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(CodexError, match="has no rows"):
        evaluate(context, lm, path)


def test_given_predictions_are_an_error(tmp_path: Path, context: Any) -> None:
    from codex_core.errors import CodexError

    with pytest.raises(CodexError, match="not given predictions"):
        evaluate(context, None, write_jsonl(tmp_path / "mc.jsonl", ROWS), predictions={"open": ["0"]})
