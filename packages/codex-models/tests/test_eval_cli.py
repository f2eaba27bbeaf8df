"""``codex eval`` end to end on a tiny trained run: result files, --json, loggers, logs
summary, given predictions, compare, bad input; and ``trainer.eval_tasks`` during training
(logged, monitored, resumed exactly)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from codex_core.testing import write_jsonl
from codex_models.training.run import run_training

PROBLEMS = [  # short prompts: the shared run's model trained on windows of 32 characters
    {"task_id": "add/0", "prompt": "def add(a, b):\n",
     "canonical_solution": "    return a + b\n", "entry_point": "add",
     "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"},
    {"task_id": "neg/1", "prompt": "def neg(x):\n",
     "canonical_solution": "    return -x\n", "entry_point": "neg",
     "test": "def check(candidate):\n    assert candidate(4) == -4\n"},
    {"task_id": "twice/2", "prompt": "def twice(s):\n",
     "canonical_solution": "    return s * 2\n", "entry_point": "twice",
     "test": "def check(candidate):\n    assert candidate('ab') == 'abab'\n"},
]


@pytest.fixture
def problems(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "problems.jsonl", PROBLEMS)


@pytest.fixture
def run_copy(eval_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shared trained run (codex eval writes into it), under a runs root of
    this test's own, with the shared CODEX_HOME."""
    runs = tmp_path / "runs"
    copy = runs / eval_run.name
    shutil.copytree(eval_run, copy, ignore=shutil.ignore_patterns(".lock"))
    monkeypatch.setenv("CODEX_RUNS_DIR", str(runs))
    monkeypatch.setenv("CODEX_HOME", str(eval_run.parent.parent / "home"))
    return copy


def eval_json(codex_cli: Any, *args: str) -> dict[str, Any]:
    code, out, err = codex_cli("eval", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_eval_of_a_run_writes_results_samples_and_logs_and_the_summary_shows_them(codex_cli, run_copy, problems):
    data = eval_json(codex_cli, "--run", "latest", "--task", "perplexity:split=test",
                     "--task", f"code-completion:problems={problems},max_new_tokens=8,temperature=0",
                     "--max-samples", "2", "--bootstrap", "200")

    assert data["model"]["run"] == run_copy.name and data["model"]["checkpoint"] == "step-00000030"
    assert len(data["model"]["sha256"]) == 64
    assert set(data["results"]) == {"perplexity", "code-completion"}
    ppl = data["results"]["perplexity"]
    assert ppl["perplexity"] == pytest.approx(2.718281828 ** ppl["loss"], rel=1e-9) and ppl["documents"] == 2
    lo, hi = data["ci"]["perplexity"]["loss"]
    assert lo <= ppl["loss"] <= hi
    assert 0.0 <= data["results"]["code-completion"]["pass@1"] <= 1.0
    assert data["samples"] == {"perplexity": 2, "code-completion": 2}
    folder = run_copy / "eval" / "step-00000030"
    written = json.loads((folder / "perplexity.json").read_text())
    assert written["results"] == ppl and written["task"] == {"name": "perplexity", "params": {"split": "test"}}
    assert written["model"]["sha256"] == data["model"]["sha256"] and written["seed"] == 0
    assert len((folder / "code-completion.samples.ndjson").read_text().splitlines()) == 2
    with open(run_copy / "metrics.csv", newline="") as handle:
        logged = [row for row in csv.DictReader(handle) if row.get("eval/perplexity/loss")]
    assert [(int(r["step"]), float(r["eval/perplexity/loss"])) for r in logged] == [(30, pytest.approx(ppl["loss"]))]
    code, out, _ = codex_cli("logs", "summary", run_copy.name)
    assert code == 0 and "evaluations (codex eval):" in out and "code-completion" in out


def test_a_runs_context_is_its_training_window_unless_told_otherwise(codex_cli, run_copy):
    """The shared run's model has 64 positions but trained on windows of 32 tokens."""
    task = ("--task", "perplexity:split=val", "--max-samples", "1", "--bootstrap", "0")
    checkpoint = str(run_copy / "checkpoints" / "step-00000030")

    by_run = eval_json(codex_cli, "--run", str(run_copy), *task)
    wider = eval_json(codex_cli, "--run", str(run_copy), "--context-length", "64", *task)
    too_wide = eval_json(codex_cli, "--run", str(run_copy), "--context-length", "1000", *task)
    by_dir = eval_json(codex_cli, "--model", checkpoint, *task)

    assert [r["info"]["perplexity"]["max_length"] for r in (by_run, wider, too_wide)] == [32, 64, 64]
    assert by_dir["info"]["perplexity"]["max_length"] == 32  # a checkpoint directory knows its run
    assert by_run["results"]["perplexity"]["loss"] != wider["results"]["perplexity"]["loss"]


def test_progress_is_plain_lines_in_a_pipe(codex_cli, run_copy):
    code, _, err = codex_cli("eval", "--run", str(run_copy), "--task", "perplexity:split=val", "--max-samples", "2",
                             "--bootstrap", "0")

    assert code == 0 and "perplexity: 2/2\n" in err and "\r" not in err


def test_the_same_seed_gives_the_same_intervals(codex_cli, run_copy):
    args = ("--run", str(run_copy), "--which", "15", "--task", "perplexity:split=val", "--max-samples", "3")

    first, again = eval_json(codex_cli, *args, "--seed", "5"), eval_json(codex_cli, *args, "--seed", "5")
    other = eval_json(codex_cli, *args, "--seed", "6")

    assert first["ci"] == again["ci"] and first["results"] == other["results"]
    assert first["ci"] != other["ci"] and first["model"]["checkpoint"] == "step-00000015"


def test_given_predictions_are_scored_without_a_model_and_compare_says_which_is_better(codex_cli, tmp_path, problems):
    good = write_jsonl(tmp_path / "good.jsonl", [{"task_id": p["task_id"], "completion": p["canonical_solution"]}
                                                 for p in PROBLEMS])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"task_id": p["task_id"], "completion": "    pass\n"}
                                               for p in PROBLEMS])
    task = f"code-completion:problems={problems}"

    a = eval_json(codex_cli, "--task", task, "--predictions", str(bad), "-o", str(tmp_path / "a"))
    b = eval_json(codex_cli, "--task", task, "--predictions", str(good), "-o", str(tmp_path / "b"))
    code, out, err = codex_cli("eval", "compare", str(tmp_path / "a/code-completion.json"),
                               str(tmp_path / "b/code-completion.json"), "--json")

    assert a["results"]["code-completion"]["pass@1"] == 0.0 and b["results"]["code-completion"]["pass@1"] == 1.0
    assert a["model"] == {} and (tmp_path / "b/code-completion.samples.ndjson").is_file()
    assert code == 0, err
    compared = json.loads(out)["code-completion"]["pass@1"]
    assert (compared["a"], compared["b"], compared["delta"]) == (0.0, 1.0, 1.0)
    assert compared["ci"] == [1.0, 1.0] and compared["p_value"] == 0.0


def test_compare_refuses_results_over_different_samples(codex_cli, tmp_path, problems):
    rows = [{"task_id": p["task_id"], "completion": p["canonical_solution"]} for p in PROBLEMS]
    fewer = write_jsonl(tmp_path / "fewer.jsonl", PROBLEMS[:2])
    eval_json(codex_cli, "--task", f"code-completion:problems={problems}", "--predictions",
              str(write_jsonl(tmp_path / "all.jsonl", rows)), "-o", str(tmp_path / "a"))
    eval_json(codex_cli, "--task", f"code-completion:problems={fewer}", "--predictions",
              str(write_jsonl(tmp_path / "two.jsonl", rows[:2])), "-o", str(tmp_path / "b"))

    code, _, err = codex_cli("eval", "compare", str(tmp_path / "a/code-completion.json"),
                             str(tmp_path / "b/code-completion.json"))

    assert code == 2 and "over different samples (3 in A, 2 in B, 2 shared)" in err


def test_eval_tasks_lists_the_built_in_tasks_with_their_params(codex_cli):
    code, out, _ = codex_cli("eval", "tasks", "--json")
    tasks = {t["name"]: t for t in json.loads(out)}

    assert code == 0
    assert {"perplexity", "code-completion", "generation", "multiple-choice", "lm-eval"} <= set(tasks)
    assert {"split", "dataset", "max_length", "stride"} <= {p["name"] for p in tasks["perplexity"]["params"]}
    assert all("error" not in t for t in tasks.values())


@pytest.mark.parametrize(("args", "message"), [
    (("--task", "perplexty"), "unknown task 'perplexty'; did you mean 'perplexity'?"),
    (("--task", "perplexity", "--metrics", "bleu"), "task 'perplexity' has no metrics to choose"),
    (("--task", "generation:path=x.jsonl", "--metrics", "blue"), "unknown metric 'blue'"),
    (("--task", "perplexity", "--task", "perplexity"), "two tasks are both named 'perplexity'"),
    (("--task", "perplexity", "--task", "code-completion", "--predictions", "p.jsonl"), "exactly one --task"),
    (("--task", "perplexity:stride=[1",), "unbalanced"),
    (("--run", "latest", "--model", "m"), "give only one of"),
])
def test_bad_input_is_one_line_and_exit_2(codex_cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.jsonl").write_text('{"task_id": "a", "completion": "b"}\n')

    code, _, err = codex_cli("eval", *args)

    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_eval_tasks_during_training_are_logged_monitored_and_resume_exactly(train_config, problems, runs_io):
    tasks = json.dumps([{"name": "perplexity", "params": {"split": "val"}},
                        {"name": "code-completion", "label": "code",
                         "params": {"problems": str(problems), "n": 2, "k": [1, 2], "temperature": 0.8,
                                    "max_new_tokens": 6}}])
    common = {"trainer__eval_tasks": tasks, "trainer__monitor": "eval/perplexity/loss"}
    straight = run_training(train_config(run__name="straight", **common)[1], progress=False)
    _, config = train_config(run__name="resumed", trainer__max_steps=3, **common)
    run_training(config, progress=False)

    resumed = run_training(train_config(run__name="resumed", **common)[1], resume="auto", progress=False)

    rows = [r for r in runs_io.metrics_rows(straight.run) if "eval/perplexity/loss" in r["metrics"]]
    assert [r["step"] for r in rows] == [3, 6]
    assert {"eval/code/pass@1", "eval/code/pass@2", "eval/code/pass@1_clean", "val/loss"} <= set(rows[-1]["metrics"])
    manifest = json.loads((straight.run / "manifest.json").read_text())
    best = min(rows, key=lambda r: r["metrics"]["eval/perplexity/loss"])["step"]
    assert manifest["best_checkpoint"] == f"step-{best:08d}"
    assert runs_io.loss_curve(resumed.run) == runs_io.loss_curve(straight.run)
    assert runs_io.same_weights(resumed.run / "checkpoints/step-00000006", straight.run / "checkpoints/step-00000006")
    evals = [(r["step"], r["metrics"]) for r in runs_io.metrics_rows(resumed.run) if "eval/code/pass@1" in r["metrics"]]
    assert evals == [(r["step"], r["metrics"]) for r in rows if "eval/code/pass@1" in r["metrics"]]
