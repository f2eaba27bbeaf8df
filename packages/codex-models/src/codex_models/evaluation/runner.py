"""The evaluation runner behind ``codex eval`` and ``trainer.eval_tasks``: build each task
from the registry, run it on a model (or on given predictions), add seeded bootstrap
intervals, and write what came out.

Files, for a run (``eval/<checkpoint>/`` in the run directory) or ``-o DIR``:

* ``<label>.json``: ``label``, ``task`` (name and params), ``model`` (``run``,
  ``checkpoint``, ``step``, ``sha256`` of the weights, or ``path``), ``results``, ``ci``
  (``[lo, hi]`` per key), ``samples`` (units scored), ``seed``, ``bootstrap``, ``info`` (the
  task's extra fields), ``versions``, ``created_at`` and ``units`` (each unit's id and the
  sufficient statistics of each metric, which ``codex eval compare`` resamples);
* ``<label>.samples.ndjson``: one per-sample record a line (prompt, output, reference,
  per-sample scores: whatever the task records), each text in it passed through the safety
  filters first: the run's ``data.safety`` policy (for a model directory or given predictions,
  the built-in rules), so that a secret in the data or in an output is not written out again.
  What they did is in ``<label>.json`` as ``safety`` (policy fingerprint, records, redacted,
  blocked, matches per rule).

Non-finite values (a perplexity that overflowed, a key with no units) are written as null.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_core.errors import CodexError
from codex_core.evaluation import EvalRequest, TaskResult, TaskSpec, bootstrap_intervals


@dataclass
class Target:
    """What is evaluated: a checkpoint of a run, or a model directory (or nothing, for given
    predictions)."""

    path: Path | None = None
    run: Any = None  # a RunDir
    checkpoint: Any = None  # a CheckpointInfo

    @classmethod
    def of(cls, path: Path | None) -> Target:
        """The target for a model directory; a checkpoint of a run directory is recognised
        (its ``checkpoint.json`` and the run's ``manifest.json``), so its run is known."""
        if path is None:
            return cls()
        from codex_core.checkpoints import CheckpointError, read_checkpoint
        from codex_core.runs import RunDir, is_run_dir

        path = Path(path)
        try:
            info = read_checkpoint(path, verify=False)
        except CheckpointError:
            return cls(path=path)
        run_path = path.parent.parent
        return cls(path=path, run=RunDir(run_path) if is_run_dir(run_path) else None, checkpoint=info)

    @property
    def sha256(self) -> str | None:
        if self.checkpoint is not None:
            files = self.checkpoint.meta.get("files", {})
            if isinstance(files, dict) and isinstance(files.get("model.safetensors"), str):
                return files["model.safetensors"]
        if self.path is not None and (self.path / "model.safetensors").is_file():
            from codex_core.fsutil import sha256_file

            return sha256_file(self.path / "model.safetensors")
        return None

    def describe(self) -> dict[str, Any]:
        """``{"run", "checkpoint", "step", "sha256"}`` for a run's checkpoint, else
        ``{"path", "sha256"}`` (``{}`` without a model)."""
        if self.run is not None and self.checkpoint is not None:
            return {"run": self.run.name, "checkpoint": self.checkpoint.path.name, "step": self.checkpoint.step,
                    "sha256": self.sha256}
        if self.path is not None:
            return {"path": str(self.path), "sha256": self.sha256}
        return {}


@dataclass
class Outcome:
    """One task's evaluation: its spec, the task's result, the merged values and intervals."""

    spec: TaskSpec
    result: TaskResult
    results: dict[str, float]
    ci: dict[str, tuple[float, float]]
    seconds: float
    seed: int = 0
    bootstrap: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    safety: str = "builtin"
    """The safety filters of the sample records: ``builtin``, ``off`` or a policy file (a run's ``data.safety``)."""

    @property
    def label(self) -> str:
        return self.spec.key


def default_tasks() -> list[TaskSpec]:
    """What ``codex eval --run RUN`` runs without ``--task``: perplexity on the run's test
    split and pass@1 on the built-in stdlib problems."""
    return [TaskSpec(name="perplexity", params={"split": "test"}),
            TaskSpec(name="code-completion", params={"problems": "stdlib"})]


def check_labels(specs: Sequence[TaskSpec]) -> None:
    """Each result needs its own name: a task given twice needs ``label=``."""
    seen: set[str] = set()
    for spec in specs:
        if spec.key in seen:
            raise CodexError(f"two tasks are both named {spec.key!r}",
                             hint=f"give one a label, e.g. --task {spec.name}:label={spec.key}-2,...")
        seen.add(spec.key)


def with_metrics(specs: Sequence[TaskSpec], metrics: Sequence[str], registry: Any) -> list[TaskSpec]:
    """``--metrics a,b``: set ``params.metrics`` of each task (a one-line error for a task
    without a ``metrics`` param, or a metric that is not installed)."""
    for name in metrics:
        registry.get("metric", name)
    out = []
    for spec in specs:
        model = registry.get("task", spec.name).load_config()
        if model is None or "metrics" not in model.model_fields:
            raise CodexError(f"task {spec.name!r} has no metrics to choose (--metrics)",
                             hint="--metrics applies to tasks scored by text metrics, such as generation")
        out.append(spec.model_copy(update={"params": {**spec.params, "metrics": list(metrics)}}))
    return out


def samples_safety(config: Any) -> str:
    """The safety filters for the sample records of an evaluation: a run's ``data.safety``
    (``config`` is its run config), else the built-in rules. A policy file that cannot be read
    is a one-line error now, before any task runs."""
    from codex_data import safety_policy

    setting = str(config.data.safety) if config is not None else "builtin"
    safety_policy(setting)
    return setting


def run_task(spec: TaskSpec, lm: Any, request: EvalRequest, *, bootstrap: int = 1000,
             safety: str | None = None) -> Outcome:
    """Build ``spec``'s task, evaluate it, and add intervals (seeded by ``request.seed``);
    ``safety`` (default: :func:`samples_safety` of the request's config) filters its samples."""
    safety = samples_safety(request.config) if safety is None else safety
    started = time.perf_counter()
    task = request.context.build("task", spec.name, spec.params)
    result = task.evaluate(lm, request)
    if not result.ids:
        raise CodexError(f"task {spec.key!r} scored nothing", hint="check its data (an empty file or split?)")
    values = result.results()
    ci = bootstrap_intervals(result, resamples=bootstrap, seed=request.seed)
    return Outcome(spec, result, values, ci, time.perf_counter() - started, request.seed, bootstrap,
                   dict(result.info), safety)


def run_tasks(specs: Sequence[TaskSpec], lm: Any, request: EvalRequest, *, bootstrap: int = 1000,
              on_start: Callable[[TaskSpec], None] | None = None) -> list[Outcome]:
    """:func:`run_task` for each spec in order (labels checked first)."""
    check_labels(specs)
    safety = samples_safety(request.config)
    outcomes = []
    for spec in specs:
        if on_start is not None:
            on_start(spec)
        outcomes.append(run_task(spec, lm, request, bootstrap=bootstrap, safety=safety))
    return outcomes


def finite(value: Any) -> Any:
    """``value`` with non-finite floats as None, recursively (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def versions() -> dict[str, str]:
    """The versions an evaluation depends on."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("codex-core", "codex-models", "codex-data", "torch", "transformers"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def result_document(outcome: Outcome, target: Target, safety: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``<label>.json`` document (see the module doc); ``safety``: what the filters did to
    the sample records (:meth:`codex_data.SafetyFilter.summary`, or None when they were off)."""
    stats = outcome.result.stats()
    return finite({
        "label": outcome.label,
        "task": {"name": outcome.spec.name, "params": outcome.spec.params},
        "model": target.describe(),
        "results": outcome.results,
        "ci": {k: list(v) for k, v in outcome.ci.items()},
        "samples": len(outcome.result.ids),
        "seed": outcome.seed,
        "bootstrap": outcome.bootstrap,
        "seconds": round(outcome.seconds, 3),
        "info": outcome.info,
        "versions": versions(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "units": [{"id": uid, "stats": row} for uid, row in zip(outcome.result.ids, stats, strict=True)],
        "safety": safety,
    })


def write_outcome(outcome: Outcome, target: Target, folder: Path) -> Path:
    """Write ``<label>.json`` and ``<label>.samples.ndjson`` into ``folder`` atomically, the
    sample records through the outcome's safety filters; returns the json file."""
    import json

    from codex_core.fsutil import atomic_write, atomic_write_json
    from codex_data import SafetyFilter, safety_policy

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{outcome.label}.json"
    policy = safety_policy(outcome.safety)
    safety = SafetyFilter(policy) if policy is not None else None
    records = outcome.result.samples if safety is None else [safety.redact(r) for r in outcome.result.samples]
    lines = "".join(json.dumps(finite(r), ensure_ascii=False, default=str) + "\n" for r in records)
    atomic_write(folder / f"{outcome.label}.samples.ndjson", lines)
    atomic_write_json(path, result_document(outcome, target, safety.summary() if safety is not None else None))
    return path


def flat_metrics(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """``{"eval/<label>/<key>": value}`` of the finite results, as loggers get them."""
    return {f"eval/{o.label}/{k}": v for o in outcomes for k, v in o.results.items() if math.isfinite(v)}


def log_to_run(outcomes: Sequence[Outcome], target: Target, context: Any) -> list[str]:
    """Log the results to the run's configured loggers at the checkpoint's step; returns
    the names of the loggers written to. A logger that fails is reported, not fatal (the
    result files are already written)."""
    import logging

    from codex_core.config import load_config

    log = logging.getLogger("codex")
    run, step = target.run, target.checkpoint.step
    try:
        config = load_config(run.config_path).config
    except CodexError as exc:
        log.warning("not logging the results to the run's loggers: %s", exc)
        return []
    metrics = flat_metrics(outcomes)
    written = []
    for ref in config.loggers:
        try:
            logger = context.build("logger", ref)
            try:
                logger.log_metrics(metrics, step)
            finally:
                logger.close()
            written.append(ref.name)
        except Exception as exc:  # one logger must not lose the other results (the files are written)
            log.warning("logger %s could not record the evaluation: %s: %s", ref.name, type(exc).__name__, exc)
    return written
