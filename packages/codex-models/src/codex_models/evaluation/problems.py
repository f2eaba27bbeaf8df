"""Code-completion problems in HumanEval's format.

A problem file is JSON lines (``.jsonl``, or gzipped ``.jsonl.gz``), one problem a row:
``task_id``, ``prompt`` (what the model continues), ``test`` (defines
``check(candidate)``), ``entry_point`` (the function's name) and, optionally,
``canonical_solution``. Rows may carry ``source`` (the file a problem was taken from,
relative to its tree) and ``sha256`` (of that file's text), which contamination checks
use; other fields are ignored.

A sample is run as :func:`program`: ``prompt + completion + "\\n" + test +
"\\ncheck(" + entry_point + ")"``, and passes when that program exits cleanly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codex_core.errors import CodexError

REQUIRED = ("task_id", "prompt", "test", "entry_point")
EXAMPLE = ('{"task_id": "demo/0", "prompt": "def add(a, b):\\n", "test": "def check(candidate):\\n    assert '
           'candidate(1, 2) == 3\\n", "entry_point": "add"}')


@dataclass(frozen=True)
class Problem:
    """One problem (see the module docstring for the fields)."""

    task_id: str
    prompt: str
    test: str
    entry_point: str
    canonical_solution: str | None = None
    source: str | None = None
    sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The problem as a row of a problem file (unset optional fields left out)."""
        return {key: value for key, value in asdict(self).items() if value is not None}


def program(problem: Problem, completion: str) -> str:
    """The program that checks ``completion`` (HumanEval's layout)."""
    return problem.prompt + completion + "\n" + problem.test + "\ncheck(" + problem.entry_point + ")"


def _problem(row: Any, where: str) -> Problem:
    if not isinstance(row, dict):
        raise CodexError(f"{where}: a problem is a JSON object, not {type(row).__name__}",
                         hint=f"each line holds one object with {', '.join(REQUIRED)}")
    missing = [key for key in REQUIRED if key not in row]
    if missing:
        raise CodexError(f"{where}: the problem has no {', '.join(map(repr, missing))}",
                         hint=f"HumanEval-format rows need {', '.join(REQUIRED)} (canonical_solution optional)")
    for key in ("prompt", "test", "entry_point", "canonical_solution", "source", "sha256"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise CodexError(f"{where}: {key!r} must be a string, not {type(row[key]).__name__}")
    if not row["entry_point"].isidentifier():
        raise CodexError(f"{where}: entry_point {row['entry_point']!r} is not a Python name")
    return Problem(task_id=str(row["task_id"]), prompt=row["prompt"], test=row["test"],
                   entry_point=row["entry_point"], canonical_solution=row.get("canonical_solution"),
                   source=row.get("source"), sha256=row.get("sha256"))


def load_problems(path: str | Path) -> list[Problem]:
    """The problems of a HumanEval-format file, in file order; one-line errors naming
    ``file:line`` for a row that is not JSON, lacks a required field or repeats a
    ``task_id``, and for a file without problems."""
    from codex_models.evaluation.tasks.rows import read_rows

    problems: list[Problem] = []
    first: dict[str, str] = {}
    for row in read_rows(path, what="problem", example=EXAMPLE):
        problem = _problem(row.data, row.where)
        if problem.task_id in first:
            raise CodexError(f"{row.where}: task_id {problem.task_id!r} is also the task_id of {first[problem.task_id]}",
                             hint="every problem needs its own task_id")
        first[problem.task_id] = row.where
        problems.append(problem)
    return problems


def dump_problems(problems: Sequence[Problem]) -> str:
    """``problems`` as the text of a problem file (what :func:`load_problems` reads)."""
    return "".join(json.dumps(p.to_json(), ensure_ascii=False, sort_keys=True) + "\n" for p in problems)


def fingerprint(problems: Sequence[Problem], settings: Mapping[str, Any] | None = None) -> str:
    """sha256 over ``settings`` and every problem's fields that decide its programs
    (``task_id``, ``prompt``, ``test``, ``entry_point``), in order."""
    digest = hashlib.sha256(json.dumps(dict(settings or {}), sort_keys=True).encode("utf-8"))
    for p in problems:
        digest.update(json.dumps([p.task_id, p.prompt, p.test, p.entry_point]).encode("utf-8") + b"\n")
    return digest.hexdigest()
