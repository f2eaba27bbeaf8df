"""The sample records ``codex eval`` writes pass through the safety filters: a secret in a
prompt (the data) or in an output (the model) is not written out again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codex_core.config import load_config
from codex_core.errors import CodexError
from codex_core.evaluation import TaskResult, TaskSpec
from codex_core.testing import write_jsonl
from codex_models.evaluation.runner import Outcome, Target, samples_safety, write_outcome

ACCESS_KEY = "AKIAQ3ZJ5V7W2XK9PLMN"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PROBLEM = {"task_id": "add/0",
           "prompt": f'def add(a, b):\n    """Deploy with {ACCESS_KEY} and password = "hunter2!x"."""\n',
           "canonical_solution": "    return a + b\n", "entry_point": "add",
           "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n"}


def test_eval_samples_are_written_with_the_secrets_of_prompt_and_output_redacted(codex_cli: Any,
                                                                                 tmp_path: Path) -> None:
    problems = write_jsonl(tmp_path / "problems.jsonl", [PROBLEM])
    predictions = write_jsonl(tmp_path / "predictions.jsonl", [
        {"task_id": "add/0", "completion": f'    token = "{GITHUB}"\n    return a + b\n'}])

    code, _, err = codex_cli("eval", "--task", f"code-completion:problems={problems}", "--predictions",
                             str(predictions), "-o", str(tmp_path / "out"), "--json")

    assert code == 0, err
    written = (tmp_path / "out" / "code-completion.samples.ndjson").read_text(encoding="utf-8")
    record = json.loads(written)
    result = json.loads((tmp_path / "out" / "code-completion.json").read_text(encoding="utf-8"))
    assert ACCESS_KEY not in written and "hunter2!x" not in written and GITHUB not in written
    assert record["prompt"] == ('def add(a, b):\n    """Deploy with [REDACTED:aws-access-key-id] and '
                                'password = "[REDACTED:keyword-secret]"."""\n')
    assert record["output"] == '    token = "[REDACTED:github-token]"\n    return a + b\n'
    assert (record["id"], record["passed"]) == ("add/0", True)  # scored on the real text, the id kept
    assert result["safety"]["counts"] == {"aws-access-key-id": 1, "github-token": 1, "keyword-secret": 1}
    assert (result["safety"]["documents"], result["safety"]["redacted"]) == (1, 1)


def outcome(safety: str) -> Outcome:
    result = TaskResult(ids=["q1"], scorers=[], samples=[{"id": "q1", "prompt": f"key {ACCESS_KEY}, code 1234",
                                                          "output": "TICKET-9"}])
    return Outcome(TaskSpec(name="generation"), result, {}, {}, 0.0, safety=safety)


def run_config(tmp_path: Path, safety: str) -> Any:
    path = tmp_path / "run.yaml"
    path.write_text(f"tokenizer: char\ndata: {{name: text, params: {{paths: [x]}}, safety: {safety}}}\nmodel: gpt2\n")
    return load_config(path).config


def test_the_runs_own_policy_filters_its_eval_samples(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("builtin: false\nrules:\n  - {name: ticket, pattern: 'TICKET-\\d+'}\n")
    own = samples_safety(run_config(tmp_path, "policy.yaml"))
    off = samples_safety(run_config(tmp_path, "off"))

    write_outcome(outcome(own), Target(), tmp_path / "own")
    write_outcome(outcome(off), Target(), tmp_path / "off")

    def records(folder: str) -> tuple[dict[str, Any], Any]:
        line = (tmp_path / folder / "generation.samples.ndjson").read_text(encoding="utf-8")
        return json.loads(line), json.loads((tmp_path / folder / "generation.json").read_text())["safety"]

    own_record, own_safety = records("own")
    assert own_record == {"id": "q1", "prompt": f"key {ACCESS_KEY}, code 1234", "output": "[REDACTED:ticket]"}
    assert (own_safety["documents"], own_safety["redacted"], own_safety["counts"]) == (1, 1, {"ticket": 1})
    assert records("off") == ({"id": "q1", "prompt": f"key {ACCESS_KEY}, code 1234", "output": "TICKET-9"}, None)
    assert samples_safety(None) == "builtin"


def test_a_missing_policy_of_the_run_is_an_error_before_any_task_runs(tmp_path: Path) -> None:
    from codex_core.context import BuildContext
    from codex_core.evaluation import EvalRequest
    from codex_core.plugins import get_plugin_manager
    from codex_models.evaluation.runner import run_tasks

    request = EvalRequest(context=BuildContext(registry=get_plugin_manager().registry),
                          config=run_config(tmp_path, "gone.yaml"))
    with pytest.raises(CodexError) as info:  # not the unknown task: the policy is checked first
        run_tasks([TaskSpec(name="no-such-task")], None, request)
    assert "gone.yaml" in str(info.value) and "not found" in str(info.value)
