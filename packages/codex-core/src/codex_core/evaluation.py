"""What evaluation tasks and ``codex eval`` share, without torch: the request a task gets,
the result it returns, task specs (``--task NAME:K=V,...`` and eval configs), given
predictions, and seeded bootstrap intervals over a result's units.

A task (see :class:`codex_core.protocols.Task`) scores *units*: the problems, documents
or rows its metrics average over. Each of its metrics (a :class:`~codex_core.protocols.Metric`)
gets one ``update`` per unit, in unit order, so ``metric.sample_stats()[i]`` is unit i's
statistic. Intervals resample units with replacement and score each resample with
``metric.compute_from``; :func:`paired_bootstrap` applies the same resamples to two
results over the units they share.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codex_core.errors import CodexError

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.context import BuildContext
    from codex_core.protocols import Metric

Interval = tuple[float, float]


# -- what a task gets and returns ------------------------------------------------------------
@dataclass
class EvalRequest:
    """What the runner hands ``task.evaluate``.

    :ivar context: the build context (``context.build("metric", ...)``, ``context.registry``).
    :ivar run_dir: the run directory when a run is evaluated, else None.
    :ivar config: the run's config (a ``RunConfig``) when a run is evaluated, else None;
        tasks that read the run's data (``perplexity`` on a split) need it.
    :ivar max_samples: score at most this many units (the first ones), None for all.
    :ivar seed: the seed of any sampling.
    :ivar predictions: given outputs (``codex eval --predictions``): unit id -> its
        completions; None when the model generates them.
    :ivar progress: ``progress(done, total)`` as units are scored, when set.
    """

    context: BuildContext
    run_dir: Path | None = None
    config: Any = None
    max_samples: int | None = None
    seed: int = 0
    predictions: Mapping[str, list[str]] | None = None
    progress: Callable[[int, int], None] | None = None

    def advance(self, done: int, total: int) -> None:
        """Report progress (a no-op without a callback)."""
        if self.progress is not None:
            self.progress(done, total)


@dataclass
class TaskResult:
    """What ``task.evaluate`` returns.

    :ivar ids: the units scored, in order (strings; unique).
    :ivar scorers: the metrics, each updated once per unit in ``ids`` order.
    :ivar samples: per-sample records (each with an ``"id"``: the unit it belongs to), for
        ``<label>.samples.ndjson``: prompt, output, reference, per-sample scores.
    :ivar info: more fields for the result file (a problem set's fingerprint, counts, ...).
    """

    ids: list[str]
    scorers: list[Metric]
    samples: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def results(self) -> dict[str, float]:
        """Every scorer's ``compute()``, merged (a key two scorers share is an error)."""
        merged: dict[str, float] = {}
        for scorer in self.scorers:
            for key, value in scorer.compute().items():
                if key in merged:
                    raise CodexError(f"two metrics of one task both report {key!r}",
                                     hint="drop one of them from the task's metrics")
                merged[key] = float(value)
        return merged

    def stats(self) -> list[list[Any]]:
        """Per unit, the statistic of each scorer (None for a scorer without
        ``sample_stats``): what a result file keeps for ``codex eval compare``."""
        columns = [_stats_of(s, len(self.ids)) for s in self.scorers]
        return [[column[i] if column is not None else None for column in columns] for i in range(len(self.ids))]


def _stats_of(scorer: Metric, n: int) -> list[Any] | None:
    if not hasattr(scorer, "sample_stats") or not hasattr(scorer, "compute_from"):
        return None
    stats = list(scorer.sample_stats())
    if len(stats) != n:
        raise CodexError(f"metric {type(scorer).__name__} has {len(stats)} sample statistics for {n} units",
                         hint="a task must update each of its metrics once per unit")
    return stats


# -- task specs ------------------------------------------------------------------------------
class TaskSpec(BaseModel):
    """One task to run: a registered task name, an optional label naming its results (when
    one task runs twice) and its params."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="registered task name or alias")
    label: str | None = Field(None, description="names the results; default: the task name")
    params: dict[str, Any] = Field(default_factory=dict, description="the task's params")

    @field_validator("label")
    @classmethod
    def _plain_label(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(c in value for c in '/\\:\0') or value.startswith(".")):
            raise ValueError(f"label {value!r} must be a plain name (no '/', '\\\\', ':' and not starting with '.')")
        return value

    @property
    def key(self) -> str:
        """The label, else the task name: the results' name in files and logs."""
        return self.label or self.name


class EvalConfig(BaseModel):
    """An eval config file (``codex eval -c EVAL.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[TaskSpec] = Field(description="the tasks to run, in order")

    @classmethod
    def load(cls, path: str | Path) -> EvalConfig:
        """Read and validate an eval config YAML file (one-line errors naming the file)."""
        import yaml
        from pydantic import ValidationError

        from codex_core.config.errors import check_unknown_keys, format_validation_error
        from codex_core.config.loader import read_text_file

        path = Path(path)
        text = read_text_file(path, "eval config", error=CodexError)
        try:
            tree = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CodexError(f"eval config {str(path)!r} is not valid YAML: {exc}".splitlines()[0]) from None
        if not isinstance(tree, dict):
            raise CodexError(f"eval config {str(path)!r} must be a mapping with a 'tasks' list",
                             hint="tasks: [{name: perplexity, params: {split: test}}]")
        check_unknown_keys(cls, tree, where=f"eval config {path}")
        try:
            config = cls.model_validate(tree)
        except ValidationError as exc:
            raise CodexError(format_validation_error(exc, where=f"eval config {path}")) from None
        return cls(tasks=resolve_task_paths(config.tasks, path.resolve()))


def resolve_task_paths(specs: Sequence[TaskSpec], origin: str | Path | None = None,
                       registry: Any = None) -> list[TaskSpec]:
    """``specs`` with the path params of each task (its params model's ``ConfigPath``
    fields) made absolute: relative to ``origin``'s folder (an eval config file), or to the
    working directory (``--task`` options) when None. A task not installed is left as it is."""
    from codex_core.config.paths import resolve_paths

    tree = {"tasks": [spec.model_dump() for spec in specs]}
    origins = {"": str(origin)} if origin is not None else {}
    resolved = resolve_paths(tree, origins, EvalConfig, (("tasks.*", "task"),), registry)
    return [TaskSpec.model_validate(item) for item in resolved["tasks"]]


def parse_task_option(text: str) -> TaskSpec:
    """``NAME[:K=V,...]`` (``--task``) -> a :class:`TaskSpec`. Values are YAML (as in
    ``key=value`` overrides): ``code-completion:n=10,k=[1,5]``; ``label=X`` names the result."""
    from codex_core.config.overrides import parse_value
    from codex_core.config.sweep import split_top_level

    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise CodexError(f"--task {text!r} has no task name", hint="e.g. --task perplexity:split=test")
    params: dict[str, Any] = {}
    label = None
    for item in split_top_level(rest) if rest.strip() else []:
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise CodexError(f"--task {text!r}: {item.strip()!r} is not K=V",
                             hint="give params as NAME:K=V,K=V, e.g. code-completion:n=10,k=[1,5]")
        if key in params or (key == "label" and label is not None):
            raise CodexError(f"--task {text!r} sets {key!r} twice")
        value = parse_value(raw.strip())
        if key == "label":
            label = str(value)
        else:
            params[key] = value
    from pydantic import ValidationError

    try:
        return TaskSpec(name=name, label=label, params=params)
    except ValidationError as exc:
        raise CodexError(f"--task {text!r}: {exc.errors()[0]['msg']}") from None


# -- given predictions -----------------------------------------------------------------------
def read_predictions(path: str | Path) -> dict[str, list[str]]:
    """A predictions file (jsonl rows ``{"task_id": ID, "completion": TEXT}``, HumanEval's
    samples format) -> unit id (as a string) -> its completions, in file order."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CodexError(f"cannot read predictions {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CodexError(f"predictions {str(path)!r} are not UTF-8 text") from None
    predictions: dict[str, list[str]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CodexError(f"{path}:{number}: not JSON: {exc.msg}") from None
        if not isinstance(row, dict) or "task_id" not in row or not isinstance(row.get("completion"), str):
            raise CodexError(f"{path}:{number}: a prediction needs 'task_id' and a string 'completion'",
                             hint='one JSON object a line: {"task_id": "...", "completion": "..."}')
        predictions.setdefault(str(row["task_id"]), []).append(row["completion"])
    if not predictions:
        raise CodexError(f"predictions {str(path)!r} are empty")
    return predictions


def check_predictions(predictions: Mapping[str, Sequence[str]], ids: Sequence[str], *, what: str = "problem",
                      min_samples: int = 1) -> None:
    """One-line errors for predictions that do not cover ``ids`` exactly, or give a unit
    fewer than ``min_samples`` completions (e.g. fewer than pass@k's largest k)."""
    known = set(ids)
    unknown = [i for i in predictions if i not in known]
    if unknown:
        raise CodexError(f"predictions for unknown {what} ids: {', '.join(map(repr, unknown[:5]))}"
                         + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""),
                         hint=f"ids are compared as strings; the task's first ids: {', '.join(list(ids)[:3])}")
    missing = [i for i in ids if i not in predictions]
    if missing:
        raise CodexError(f"no predictions for {len(missing)} {what}(s): {', '.join(map(repr, missing[:5]))}",
                         hint="give every id a row, or use --max-samples to score the first ones only")
    short = [i for i in ids if len(predictions[i]) < min_samples]
    if short:
        raise CodexError(f"{what} {short[0]!r} has {len(predictions[short[0]])} predictions, fewer than "
                         f"{min_samples}", hint="give each id at least that many rows, or lower k")


# -- bootstrap -------------------------------------------------------------------------------
def _percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile of sorted ``values`` (numpy's default method)."""
    position = (len(values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def _resamples(n: int, resamples: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(n) for _ in range(n)] for _ in range(resamples)]


def _score(scorers: Sequence[Metric], columns: Sequence[list[Any] | None], rows: Sequence[int]) -> dict[str, float]:
    values: dict[str, float] = {}
    for scorer, column in zip(scorers, columns, strict=True):
        if column is not None:
            values.update({k: float(v) for k, v in scorer.compute_from([column[i] for i in rows]).items()})  # type: ignore[attr-defined]
    return values


def _intervals(draws: list[dict[str, float]], level: float) -> dict[str, Interval]:
    out: dict[str, Interval] = {}
    for key in draws[0] if draws else ():
        values = sorted(d[key] for d in draws if key in d and math.isfinite(d[key]))
        if values:
            out[key] = (_percentile(values, (1 - level) / 2), _percentile(values, (1 + level) / 2))
    return out


def bootstrap_intervals(result: TaskResult, *, resamples: int = 1000, seed: int = 0,
                        level: float = 0.95) -> dict[str, Interval]:
    """Seeded percentile bootstrap intervals (``level``, default 95%) for every key of the
    result's scorers that have sample statistics: ``resamples`` draws of the units with
    replacement, each scored by ``compute_from``. No units or ``resamples=0``: none."""
    n = len(result.ids)
    if n == 0 or resamples <= 0:
        return {}
    columns = [_stats_of(s, n) for s in result.scorers]
    draws = [_score(result.scorers, columns, rows) for rows in _resamples(n, resamples, seed)]
    return _intervals(draws, level)


@dataclass(frozen=True)
class Comparison:
    """One key compared by :func:`paired_bootstrap`: ``a`` and ``b`` over the shared units,
    ``delta = b - a``, its interval, and the two-sided bootstrap p-value of ``delta != 0``."""

    a: float
    b: float
    delta: float
    ci: Interval
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "delta": self.delta, "ci": list(self.ci), "p_value": self.p_value}


def paired_bootstrap(scorers: Sequence[Metric], stats_a: Sequence[Sequence[Any]], stats_b: Sequence[Sequence[Any]],
                     *, resamples: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, Comparison]:
    """Compare two results of one task over the same units (``stats_a[i]`` and
    ``stats_b[i]`` are unit i's per-scorer statistics, as :meth:`TaskResult.stats` gives).
    Each resample draws the same units for both; the p-value is twice the smaller share of
    resampled deltas on either side of 0 (at most 1)."""
    n = len(stats_a)
    if n != len(stats_b):
        raise ValueError("paired_bootstrap needs the same units on both sides")
    if n == 0:
        return {}

    def columns(stats: Sequence[Sequence[Any]]) -> list[list[Any] | None]:
        cols: list[list[Any] | None] = []
        for j in range(len(scorers)):
            column = [row[j] for row in stats]
            cols.append(None if any(v is None for v in column) else column)
        return cols

    cols_a, cols_b = columns(stats_a), columns(stats_b)
    everything = list(range(n))
    a, b = _score(scorers, cols_a, everything), _score(scorers, cols_b, everything)
    deltas: dict[str, list[float]] = {key: [] for key in a if key in b}
    for rows in _resamples(n, resamples, seed):
        ra, rb = _score(scorers, cols_a, rows), _score(scorers, cols_b, rows)
        for key in deltas:
            delta = rb[key] - ra[key]
            if math.isfinite(delta):
                deltas[key].append(delta)
    out: dict[str, Comparison] = {}
    for key, values in deltas.items():
        values.sort()
        if values:
            ci = (_percentile(values, (1 - level) / 2), _percentile(values, (1 + level) / 2))
            below = sum(v <= 0 for v in values) / len(values)
            above = sum(v >= 0 for v in values) / len(values)
            p_value = min(1.0, 2 * min(below, above))
        else:
            ci, p_value = (math.nan, math.nan), math.nan
        out[key] = Comparison(a[key], b[key], b[key] - a[key], ci, p_value)
    return out


class MeanStats:
    """A mixin for metrics that are means of per-sample values: keep ``self._rows`` (one
    ``{key: value}`` per sample) and get ``compute``, ``sample_stats``, ``compute_from``,
    ``merge`` and ``reset``. ``compute()`` before any update gives ``nan`` for each of
    ``keys``."""

    keys: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._rows: list[dict[str, float]] = []

    def sample_stats(self) -> list[dict[str, float]]:
        return list(self._rows)

    def compute_from(self, stats: Sequence[Mapping[str, float]]) -> dict[str, float]:
        if not stats:
            return {key: math.nan for key in self.keys}
        keys = self.keys or tuple(stats[0])
        return {key: math.fsum(row[key] for row in stats) / len(stats) for key in keys}

    def compute(self) -> dict[str, float]:
        return self.compute_from(self._rows)

    def merge(self, other: Any) -> None:
        if type(other) is not type(self):
            raise TypeError(f"cannot merge {type(other).__name__} into {type(self).__name__}")
        self._rows.extend(other._rows)

    def reset(self) -> None:
        self._rows = []
