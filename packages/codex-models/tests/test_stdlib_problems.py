"""The built-in ``stdlib`` problem set: doctested functions of this Python's standard
library, verified in the sandbox, cached under the cache folder, and flagged as
contaminated when their file is in a run's train split."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from codex_core.errors import CodexError
from codex_models.evaluation import stdlib_problems as sp
from codex_models.evaluation.problems import Problem, program
from codex_models.evaluation.sandbox import run_programs

FILES = ["difflib.py", "heapq.py", "pickle.py", "zipfile.py"]
"""The files the fast tests scan (the whole standard library takes about ten seconds)."""


@pytest.fixture(scope="session")
def stdlib_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stdlib-problems-cache")


@pytest.fixture(scope="session")
def problems(stdlib_cache: Path) -> list[Problem]:
    return sp.stdlib_problems(stdlib_cache, FILES)


def test_the_set_is_not_empty_and_its_solutions_pass_and_pass_bodies_fail(problems: list[Problem]) -> None:
    assert len(problems) >= 5
    solved = run_programs([program(p, p.canonical_solution or "") for p in problems], timeout=10)
    assert [(p.task_id, o.status, o.error) for p, o in zip(problems, solved, strict=True) if not o.passed] == []
    empty = run_programs([program(p, "    pass\n") for p in problems], timeout=10)
    assert [p.task_id for p, o in zip(problems, empty, strict=True) if o.passed] == []
    assert all(o.error.startswith(("AssertionError", "TypeError")) for o in empty), [o.error for o in empty]


def test_a_problem_keeps_its_file_and_the_files_sha256(problems: list[Problem]) -> None:
    from codex_data.stdlib import stdlib_root

    assert len({p.task_id for p in problems}) == len(problems)
    assert [len(p.prompt) for p in problems] == sorted(len(p.prompt) for p in problems)
    for p in problems:
        assert p.source in FILES
        text = (stdlib_root() / p.source).read_text(encoding="utf-8")
        assert p.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
        # the prompt is the function's signature and docstring as written, the body is the rest
        assert f"def {p.entry_point}(" in p.prompt and ">>>" in p.prompt
        assert p.prompt[p.prompt.index("def "):] + (p.canonical_solution or "") in text


def test_the_prompt_imports_what_the_body_needs() -> None:
    from codex_data.stdlib import stdlib_root

    text = (stdlib_root() / "difflib.py").read_text(encoding="utf-8")
    problem = next(p for p in sp.scan_source("difflib.py", text) if p.entry_point == "restore")
    assert problem.prompt.startswith("from difflib import ndiff\n")
    assert problem.task_id == "stdlib/difflib:restore"


def test_the_scan_keeps_self_contained_doctested_functions_only() -> None:
    source = '''
import re
from .sibling import helper
LIMIT = 3

def clip(x):
    """
    >>> clip(5)
    3
    """
    return min(x, LIMIT)

def words(text):
    """
    >>> words("a b")
    ['a', 'b']
    """
    return re.split(" ", helper(text))

def roll():
    """
    >>> import random; roll() in range(6)
    True
    """
    return 3

@staticmethod
def decorated(x):
    """
    >>> decorated(1)
    1
    """
    return x

def undocumented(x):
    return x
'''
    found = {p.entry_point: p for p in sp.scan_source("pkg/mod.py", source)}
    assert set(found) == {"clip", "words"}
    assert found["clip"].prompt.startswith("from pkg.mod import LIMIT\n\n\ndef clip(x):\n")
    assert found["words"].prompt.startswith("import re\nfrom pkg.sibling import helper\n\n\ndef words(text):\n")
    assert found["clip"].canonical_solution == "    return min(x, LIMIT)\n"


def test_the_set_is_cached_and_read_back_without_verifying(problems: list[Problem], stdlib_cache: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cached = [[json.loads(line)["task_id"] for line in path.read_text().splitlines()]
              for path in (stdlib_cache / "eval").glob("stdlib-problems-*.jsonl")]
    assert [p.task_id for p in problems] in cached

    def no_verify(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("verified again")

    monkeypatch.setattr(sp, "verify", no_verify)
    assert sp.stdlib_problems(stdlib_cache, FILES) == problems


def test_another_python_version_has_its_own_cache_and_fingerprint(problems: list[Problem], stdlib_cache: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fingerprint, files = sp.stdlib_fingerprint(problems), set((stdlib_cache / "eval").glob("*.jsonl"))
    monkeypatch.setattr(sp.platform, "python_version", lambda: "3.99.0")
    assert sp.stdlib_fingerprint(problems) != fingerprint
    monkeypatch.setattr(sp, "verify", lambda candidates, workers=None: [])
    assert sp.stdlib_problems(stdlib_cache, FILES) == []
    assert len(set((stdlib_cache / "eval").glob("*.jsonl")) - files) == 1


def test_a_file_outside_the_standard_library_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match=r"not files of this standard library: nope\.py"):
        sp.stdlib_problems(tmp_path, ["nope.py"])


# -- contamination -------------------------------------------------------------------------
def run_config(tmp_path: Path, train_trees: Any, data: dict[str, Any]) -> Any:
    from codex_core.config import load_config

    tree = train_trees.base_tree(train_trees.write_corpus(tmp_path / "corpus", n_files=2))
    tree["data"] = data
    path = tmp_path / "run.yaml"
    path.write_text(json.dumps(tree), encoding="utf-8")
    return load_config(path).config


def test_problems_whose_file_is_in_the_train_split_are_contaminated(
        problems: list[Problem], tmp_path: Path, train_trees: Any, add_plugin: Any, codex_registry: Any) -> None:
    from codex_core.context import BuildContext
    from codex_data.stdlib import stdlib_root
    from codex_models.evaluation.tasks.code_completion import flag_contaminated

    # a run trained on two of the files (a text dataset over the standard library's own files)
    trained = ["difflib.py", "heapq.py"]
    config = run_config(tmp_path, train_trees, {
        "name": "text", "params": {"paths": [str(stdlib_root() / f) for f in trained]},
        "split": {"train": 1.0, "val": 0.0, "test": 0.0}, "safety": "off"})
    context = BuildContext(registry=codex_registry, cache_dir=tmp_path / "home")
    flagged = flag_contaminated(problems, config.data, context, seed=config.data.split.seed)
    assert flagged == {p.task_id for p in problems if p.source in trained}
    assert flagged and flagged != {p.task_id for p in problems}


def test_the_stdlib_code_datasets_train_split_is_what_counts(
        problems: list[Problem], tmp_path: Path, train_trees: Any, add_plugin: Any, codex_registry: Any) -> None:
    from codex_core.context import BuildContext
    from codex_data import assign_split
    from codex_data.stdlib import stdlib_root
    from codex_models.evaluation.tasks.code_completion import flag_contaminated

    ratios = {"train": 0.5, "val": 0.25, "test": 0.25}
    config = run_config(tmp_path, train_trees, {"name": "stdlib-code", "split": ratios, "safety": "off"})
    context = BuildContext(registry=codex_registry, cache_dir=tmp_path / "home")
    flagged = flag_contaminated(problems, config.data, context, seed=config.data.split.seed)
    expected = {p.task_id for p in problems if assign_split(
        (stdlib_root() / str(p.source)).read_text(encoding="utf-8"), ratios, salt=str(config.data.split.seed)) == "train"}
    assert flagged == expected


# -- through the task ----------------------------------------------------------------------
@pytest.fixture
def stdlib_task(problems: list[Problem], stdlib_cache: Path, monkeypatch: pytest.MonkeyPatch, add_plugin: Any,
                codex_registry: Any) -> Any:
    """``run(predictions=None, lm=None, config=None, **params)``: the registered task with
    problems=stdlib, its set restricted to :data:`FILES`."""
    from codex_core.context import BuildContext
    from codex_core.evaluation import EvalRequest

    whole = sp.stdlib_problems
    monkeypatch.setattr(sp, "stdlib_problems", lambda cache_dir, files=None, **kw: whole(cache_dir, FILES, **kw))
    context = BuildContext(registry=codex_registry, cache_dir=stdlib_cache)

    def run(predictions: Any = None, lm: Any = None, config: Any = None, **params: Any) -> Any:
        task = context.build("task", "code-completion", {"problems": "stdlib", **params})
        return task.evaluate(lm, EvalRequest(context=context, predictions=predictions, config=config))

    return run


def test_the_task_scores_the_stdlib_set(stdlib_task: Any, problems: list[Problem]) -> None:
    solved = stdlib_task({p.task_id: [p.canonical_solution] for p in problems})
    assert solved.results() == {"pass@1": 1.0, "pass@1_clean": 1.0}
    assert solved.info["fingerprint"] == sp.stdlib_fingerprint(problems)
    assert solved.info["problem_set"] == "stdlib"
    empty = stdlib_task({p.task_id: [sp.pass_body(p)] for p in problems})
    assert empty.results()["pass@1"] == 0.0


def test_the_task_flags_contaminated_problems_of_a_runs_train_split(
        stdlib_task: Any, problems: list[Problem], tmp_path: Path, train_trees: Any) -> None:
    from codex_data.stdlib import stdlib_root

    config = run_config(tmp_path, train_trees, {
        "name": "text", "params": {"paths": [str(stdlib_root() / "pickle.py")]},
        "split": {"train": 1.0, "val": 0.0, "test": 0.0}})  # the built-in safety filters on
    result = stdlib_task({p.task_id: [p.canonical_solution] for p in problems}, config=config)
    dirty = {s["id"] for s in result.samples if s["contaminated"]}
    assert dirty == {p.task_id for p in problems if p.source == "pickle.py"} and dirty
    assert result.info["contaminated"] == len(dirty)


def test_stdlib_problems_that_do_not_fit_the_model_are_left_out(stdlib_task: Any, eval_run: Path) -> None:
    from codex_models.evaluation.lm import HFLanguageModel

    lm = HFLanguageModel.from_dir(eval_run / "checkpoints" / "step-00000030", device="cpu")
    with pytest.raises(CodexError, match=r"none of the \d+ stdlib problems fits the model's context of 64"):
        stdlib_task(lm=lm)


@pytest.fixture(scope="session")
def whole_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Problem]]:
    cache = tmp_path_factory.mktemp("stdlib-whole")
    return cache, sp.stdlib_problems(cache)


@pytest.mark.slow
def test_the_whole_standard_library_gives_a_verified_set(whole_set: tuple[Path, list[Problem]]) -> None:
    _, problems = whole_set
    assert len(problems) >= 20
    assert len({p.source for p in problems}) >= 5
    solved = run_programs([program(p, p.canonical_solution or "") for p in problems], timeout=10)
    assert all(o.passed for o in solved)


@pytest.mark.slow
def test_the_default_tasks_stdlib_set_scores_canonical_solutions_as_one(
        whole_set: tuple[Path, list[Problem]], add_plugin: Any, codex_registry: Any) -> None:
    from codex_core.context import BuildContext
    from codex_core.evaluation import EvalRequest

    cache, problems = whole_set
    context = BuildContext(registry=codex_registry, cache_dir=cache)
    task = context.build("task", "code-completion", {})
    result = task.evaluate(None, EvalRequest(context=context, max_samples=8,
                                             predictions={p.task_id: [p.canonical_solution] for p in problems}))
    assert result.ids == [p.task_id for p in problems[:8]] and result.results()["pass@1"] == 1.0
