"""What the ``lm-eval`` task makes of lm-evaluation-harness's output: the result keys, the
units (per-document samples) and the scorers (see :mod:`codex_models.evaluation.tasks.lm_eval`).
Plain data in, a :class:`~codex_core.evaluation.TaskResult` out; lm-eval is not imported.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from codex_core.evaluation import TaskResult


class LMEvalScores:
    """Means of lm-eval's per-document metric values (implements ``Metric``).

    ``update`` takes one ``{key: value}`` per document; a key is averaged over the
    documents that have it (with several tasks, each key belongs to one task's
    documents). ``compute_from`` of any resample of ``sample_stats()`` gives the same
    means over that resample.
    """

    inputs = "text"

    def __init__(self) -> None:
        self._rows: list[dict[str, float]] = []

    def update(self, predictions: Sequence[Any], references: Sequence[Any] = ()) -> None:
        for row in predictions:
            self._rows.append({str(k): float(v) for k, v in dict(row).items()})

    def sample_stats(self) -> list[dict[str, float]]:
        return list(self._rows)

    def compute_from(self, stats: Sequence[Mapping[str, float]]) -> dict[str, float]:
        totals: dict[str, list[float]] = {}
        for row in stats:
            for key, value in row.items():
                totals.setdefault(key, []).append(float(value))
        return {key: math.fsum(values) / len(values) for key, values in totals.items()}

    def compute(self) -> dict[str, float]:
        return self.compute_from(self._rows)

    def merge(self, other: Any) -> None:
        if not isinstance(other, LMEvalScores):
            raise TypeError(f"cannot merge {type(other).__name__} into LMEvalScores")
        self._rows.extend(other._rows)

    def reset(self) -> None:
        self._rows = []


class LMEvalReported:
    """The values lm-eval aggregated in other ways than a mean over documents, as it
    reported them (no sample statistics, so no intervals)."""

    inputs = "text"

    def __init__(self, values: Mapping[str, float] | None = None) -> None:
        self.values = dict(values or {})

    def update(self, predictions: Sequence[Any], references: Sequence[Any] = ()) -> None:
        """Nothing to accumulate: the values come from lm-eval whole."""

    def compute(self) -> dict[str, float]:
        return dict(self.values)

    def merge(self, other: Any) -> None:
        raise TypeError("lm-eval's reported values cannot be merged")

    def reset(self) -> None:
        self.values = {}


def _key(metric_and_filter: str, filters: int) -> str | None:
    """``acc,none`` -> ``acc``; ``_stderr`` keys -> None; a task with several filters keeps
    its filter as ``metric/filter``."""
    metric, _, filter_name = metric_and_filter.partition(",")
    if not filter_name or metric.endswith("_stderr"):
        return None
    return metric if filters <= 1 or filter_name == "none" else f"{metric}/{filter_name}"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, numbers.Real) else None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def collect(results: Mapping[str, Any]) -> TaskResult:
    """lm-eval's ``simple_evaluate`` output (with ``log_samples``) -> a :class:`TaskResult`."""
    reported: dict[str, dict[str, Any]] = dict(results.get("results") or {})
    samples: dict[str, list[dict[str, Any]]] = dict(results.get("samples") or {})
    several = len(reported) > 1
    prefix = (lambda task, key: f"{task}/{key}") if several else (lambda task, key: key)

    values: dict[str, float] = {}
    for task, row in reported.items():
        filters = len({s.get("filter") for s in samples.get(task, [])}) or 1
        for name, value in row.items():
            key = _key(name, filters)
            number = _number(value)
            if key is not None and number is not None:
                values[prefix(task, key)] = number

    ids: list[str] = []
    per_doc: dict[str, dict[str, Any]] = {}
    records: list[dict[str, Any]] = []
    for task, task_samples in samples.items():
        filters = len({s.get("filter") for s in task_samples}) or 1
        for sample in sorted(task_samples, key=lambda s: (int(s["doc_id"]), str(s.get("filter")))):
            unit = f"{task}/{sample['doc_id']}"
            if unit not in per_doc:
                ids.append(unit)
                per_doc[unit] = {}
            scores = {}
            for metric in sample.get("metrics") or ():
                key = _key(f"{metric},{sample.get('filter') or 'none'}", filters)
                if key is not None and metric in sample:
                    per_doc[unit][prefix(task, key)] = sample[metric]
                    scores[metric] = sample[metric]
            arguments = sample.get("arguments") or []
            records.append(_jsonable({
                "id": unit, "task": task, "doc_id": sample["doc_id"], "filter": sample.get("filter"),
                "prompt": arguments[0][0] if arguments and arguments[0] else None,
                "arguments": arguments, "output": sample.get("filtered_resps"), "reference": sample.get("target"),
                **scores}))

    means: dict[str, bool] = {}
    for key in {k for doc in per_doc.values() for k in doc}:
        column = [_number(doc[key]) for doc in per_doc.values() if key in doc]
        numeric = [v for v in column if v is not None]
        means[key] = (key in values and len(numeric) == len(column)
                      and math.isclose(math.fsum(numeric) / len(numeric), values[key], rel_tol=1e-9, abs_tol=1e-12))
    scores = LMEvalScores()
    scores.update([{k: v for k, v in per_doc[unit].items() if means[k]} for unit in ids])
    result = TaskResult(ids=ids, scorers=[scores], samples=records,
                        info={"lm_eval_version": results.get("lm_eval_version"),
                              "versions": _jsonable(results.get("versions") or {}),
                              "n-shot": _jsonable(results.get("n-shot") or {}),
                              "documents": {task: len(s) for task, s in samples.items()}})
    rest = {k: v for k, v in values.items() if not means.get(k, False)}
    if rest:
        result.scorers.append(LMEvalReported(rest))
    return result
