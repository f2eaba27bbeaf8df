"""``codex repro check RUN``: re-run a run's first N steps and compare them with the run.

1. Preflight (:mod:`codex_models.repro.preflight`): every reason the run cannot be re-run
   exactly here; any reason ends the check as ``cannot_check``.
2. The re-run (:mod:`codex_models.repro.rerun`) in a temporary folder (or ``keep``).
3. The comparison (:mod:`codex_models.repro.compare`): the metric rows up to step N, the
   tokenizer and data fingerprints, and on CPU the weights of one checkpoint.

:func:`check_run` returns a :class:`CheckResult`; its ``status`` is ``identical``, ``differs``
or ``cannot_check`` (exit status 0, 1, 2).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_models.repro import facts

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.config import RunConfig
    from codex_core.runs import RunDir

log = logging.getLogger("codex.repro")

EXIT_CODES = {"identical": 0, "differs": 1, "cannot_check": 2}


@dataclass
class CheckResult:
    status: str
    steps: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Any] = field(default_factory=dict)
    fingerprints: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    rerun: str | None = None
    """The re-run's run directory when it was kept (``keep``)."""

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "steps": self.steps, "metrics": self.metrics, "weights": self.weights,
                "fingerprints": self.fingerprints, "warnings": self.warnings, "reasons": self.reasons,
                "rerun": self.rerun}


def check_run(run: RunDir, steps: int | None = None, *, keep: str | Path | None = None,
              announce: Any = None) -> CheckResult:
    """Re-run the first ``steps`` steps of ``run`` (default: up to its first checkpoint) and
    compare; ``keep``: re-run in that folder and leave it there. ``announce(line)`` is told
    when the re-run starts."""
    from codex_models.repro.preflight import preflight

    manifest = run.read_manifest()
    config, reasons = _load(run, manifest)
    if config is None:
        return CheckResult("cannot_check", reasons=reasons)
    final = int(manifest.get("final_step") or 0)
    n = steps if steps is not None else min(config.trainer.checkpoint_every, final)
    if steps is not None and steps > final:
        reasons.append(f"--steps {steps} is past the run's last step ({final})")
    if not manifest.get("tokens_per_step"):
        reasons.append("the manifest records no tokens_per_step (the run did not finish its setup)")
    found = preflight(run, manifest, config, n)
    result = CheckResult("cannot_check", steps=n, warnings=found.warnings, reasons=reasons + found.reasons)
    if result.reasons:
        return result
    workdir = Path(keep).resolve() if keep is not None else Path(tempfile.mkdtemp(prefix="codex-repro-"))
    try:
        return _rerun_and_compare(run, manifest, config, n, workdir, result, announce, kept=keep is not None)
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _load(run: RunDir, manifest: dict[str, Any]) -> tuple[RunConfig | None, list[str]]:
    """The run's config, and the reasons found so far (a config that no longer validates is one)."""
    from codex_core.config import load_config
    from codex_core.errors import CodexError

    reasons = []
    if not manifest:
        return None, [f"run {run.name} has no manifest.json"]
    if run.is_locked():
        reasons.append(f"run {run.name} is in use by another process (still training?)")
    if not int(manifest.get("final_step") or 0):
        reasons.append(f"run {run.name} has no completed step (status {manifest.get('status', 'unknown')})")
    if not run.config_path.is_file():
        return None, [*reasons, f"run {run.name} has no config.yaml"]
    try:
        config = load_config(run.config_path).config
    except CodexError as exc:
        return None, [*reasons, f"the run's config.yaml does not load now: {exc}"]
    return config, reasons


def _rerun_and_compare(run: RunDir, manifest: dict[str, Any], config: RunConfig, n: int, workdir: Path,
                       result: CheckResult, announce: Any, *, kept: bool) -> CheckResult:
    from codex_core.runs import RunDir
    from codex_models.repro.compare import compare_fingerprints, compare_metrics, compare_weights
    from codex_models.repro.rerun import run_rerun

    original_rows = list(run.read_metrics())
    workdir.mkdir(parents=True, exist_ok=True)
    if (workdir / "runs").exists() and any((workdir / "runs").iterdir()):
        result.reasons.append(f"--keep {workdir} already holds a re-run; give an empty or new folder")
        return result
    if announce is not None:
        announce(f"re-running steps 1-{n} of {run.name} (of {manifest.get('final_step')}) in {workdir}")
    rerun = run_rerun(config, manifest, n, workdir, name=run.name, tokens_at_step=_tokens_at(original_rows, n))
    result.rerun = str(rerun.path) if kept else None
    if rerun.returncode != 0:
        result.reasons.append(f"the re-run failed (exit status {rerun.returncode}): {rerun.error_line()}"
                              + ("" if kept else " (keep it with --keep DIR to read its log)"))
        return result
    again = RunDir(rerun.path)
    rerun_manifest = again.read_manifest()
    stopped = int(rerun_manifest.get("final_step") or 0)
    if stopped != n:
        result.warnings.append(f"the re-run stopped at step {stopped}, not {n}")
    result.metrics = compare_metrics(original_rows, again.read_metrics(), n)
    if not result.metrics["values"]:
        result.warnings.append(f"the run logged no metrics up to step {n}")
    result.fingerprints = compare_fingerprints(manifest, rerun_manifest)
    for name, entry in result.fingerprints.items():
        if entry["match"] is None:
            result.warnings.append(f"the manifest records no {name} fingerprint: not compared")
    device = str(facts.field(manifest, "hardware.device") or "cpu")
    result.weights = compare_weights(run, again, n, device)
    same = (result.metrics["identical"] and all(e["match"] is not False for e in result.fingerprints.values())
            and result.weights.get("identical", True))
    result.status = "identical" if same else "differs"
    return result


def _tokens_at(rows: list[dict[str, Any]], step: int) -> int | None:
    """``train/tokens`` the run logged at ``step`` (None when not logged there)."""
    for row in rows:
        value = (row.get("metrics") or {}).get("train/tokens")
        if int(row["step"]) == step and isinstance(value, (int, float)) and value > 0:
            return int(value)
    return None


def report_lines(result: CheckResult) -> list[str]:
    """The check as text: a table of what matched and what differed, the warnings, the reasons,
    and the verdict (``identical``, ``differs``, ``cannot be checked``) last."""
    lines = [f"cannot check: {reason}" for reason in result.reasons]
    if result.metrics:
        lines += _table(result)
    lines += [f"warning: {warning}" for warning in result.warnings]
    if result.rerun:
        lines.append(f"re-run kept in {result.rerun}")
    lines.append({"identical": "identical", "differs": "differs"}.get(result.status, "cannot be checked"))
    return lines


def _table(result: CheckResult) -> list[str]:
    metrics, rows = result.metrics, []
    first = metrics["first_difference"]
    summary = (f"first at step {first['step']}: {first['metric']} {first['original']} in the run, "
               f"{first['rerun']} in the re-run" if first else
               f"{metrics['values']} values in {metrics['steps']} steps (1-{result.steps})")
    rows.append(("metrics", "differ" if first else "identical", summary))
    for name, entry in metrics["per_metric"].items():
        if entry["differing"]:
            gap = f", max abs diff {entry['max_abs_diff']:.3g}" if entry["max_abs_diff"] is not None else ""
            detail = f"{entry['differing']} of {entry['values']} differ, first at step {entry['first_step']}{gap}"
        else:
            detail = f"{entry['values']} value" + ("s" if entry["values"] != 1 else "")
        rows.append((f"  {name}", "differs" if entry["differing"] else "identical", detail))
    weights = result.weights
    if weights.get("compared"):
        detail = (f"{weights['checkpoint']}: {weights['tensors']} tensors bit for bit" if weights["identical"] else
                  f"{weights['checkpoint']}: {len(weights['differing'])} of {weights['tensors']} tensors differ ("
                  + ", ".join(weights["differing"][:4]) + (", ..." if len(weights["differing"]) > 4 else "") + ")")
        rows.append(("weights", "identical" if weights["identical"] else "differ", detail))
    for name, entry in result.fingerprints.items():
        verdict = {True: "identical", False: "differs", None: "not recorded"}[entry["match"]]
        detail = "" if entry["match"] is not False else f"{str(entry['original'])[:12]} in the run, " \
                                                         f"{str(entry['rerun'])[:12]} in the re-run"
        rows.append((f"{name} fingerprint", verdict, detail))
    width = max(len(r[0]) for r in rows)
    shown = max(len(r[1]) for r in rows)
    lines = [f"{r[0]:<{width}}  {r[1]:<{shown}}  {r[2]}".rstrip() for r in rows]
    if not weights.get("compared"):
        lines.append(f"weights: not compared ({weights.get('reason', 'no checkpoint')})")
    return lines
