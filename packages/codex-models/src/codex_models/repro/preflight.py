"""Whether a run can be re-run exactly here, before anything is trained.

A *reason* makes the check impossible (``repro check`` exits 2 and lists every reason): a data
source missing or changed, a dataset that cannot be built, another version of a distribution
that decides the numbers (:func:`codex_models.repro.facts.critical_names`), a device this
machine lacks, or a learning-rate schedule that a shorter re-run would change. A *warning* is
a difference that is not expected to change the numbers (other distributions, git sha, CPU
model, platform); it is reported and the check goes on.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codex_models.repro import facts

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.config import RunConfig
    from codex_core.runs import RunDir

_SHOWN = 8  # other differing distributions named in the warning


@dataclass
class Preflight:
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def preflight(run: RunDir, manifest: Mapping[str, Any], config: RunConfig, steps: int) -> Preflight:
    """The reasons ``run`` cannot be re-run exactly for ``steps`` steps here, and the warnings."""
    found = Preflight()
    found.reasons += source_reasons(manifest, config, found.warnings)
    version_reasons, version_warnings = compare_versions(manifest, facts.installed_distributions())
    found.reasons += version_reasons
    found.warnings += version_warnings
    found.reasons += device_reasons(manifest)
    found.reasons += schedule_reasons(config, steps)
    found.warnings += machine_warnings(run, manifest)
    if config.trainer.compile:
        found.warnings.append("trainer.compile: torch.compile's kernels are not bit for bit repeatable, so a "
                              "compiled run may differ from its re-run in the last digits")
    return found


def source_reasons(manifest: Mapping[str, Any], config: RunConfig, warnings: list[str]) -> list[str]:
    """The run's recorded data sources against those of the dataset its config builds now: one
    reason per source missing, changed or new, or why the dataset cannot be built."""
    recorded = facts.recorded_sources(manifest)
    name = config.data.name
    try:
        now = current_sources(config)
    except Exception as exc:  # whatever stops the dataset from being built is the reason, reported
        detail = str(exc) if _is_user_error(exc) else f"{type(exc).__name__}: {exc}"
        return [f"dataset {name} cannot be built now: {detail}"]
    if not recorded:
        warnings.append("the manifest records no data sources: the data is compared only by the re-run's "
                        "data fingerprint")
        return []
    then = {s["uri"]: s["sha256"] for s in recorded}
    here = {s["uri"]: s["sha256"] for s in now}
    reasons = []
    for uri, sha in then.items():
        if uri.startswith("dataset:"):
            continue
        if uri not in here:
            reasons.append(f"data source {uri} (dataset {name}) is missing: the run trained on it "
                           f"(sha256 {sha[:12]})")
        elif here[uri] != sha:
            reasons.append(f"data source {uri} (dataset {name}) changed: sha256 {sha[:12]} in the run, "
                           f"{here[uri][:12]} now")
    reasons += [f"data source {uri} (dataset {name}) is new: the run did not train on it"
                for uri in here if uri not in then and not uri.startswith("dataset:")]
    # The dataset's own fingerprint covers its files and params: named when no file explains it.
    for uri, sha in then.items():
        if uri.startswith("dataset:") and here.get(uri) != sha and not reasons:
            reasons.append(f"dataset {name}'s fingerprint changed ({sha[:12]} in the run, "
                           f"{str(here.get(uri))[:12]} now): its documents differ from the run's")
    return reasons


def current_sources(config: RunConfig) -> list[dict[str, str]]:
    """``dataset_sources`` of the dataset ``config.data`` builds now."""
    from codex_core.context import BuildContext
    from codex_core.plugins import get_plugin_manager
    from codex_core.runs import cache_root
    from codex_data import dataset_sources

    context = BuildContext(registry=get_plugin_manager().registry, cache_dir=cache_root(), seed=config.run.seed)
    dataset = context.build("dataset", config.data)
    return list(dataset_sources(config.data.name, dataset))


def _is_user_error(exc: BaseException) -> bool:
    from codex_core.errors import CodexError

    return isinstance(exc, (CodexError, OSError))


def compare_versions(manifest: Mapping[str, Any], installed: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Reasons (each critical distribution whose version differs, with both versions) and
    warnings (the other distributions that differ) between the manifest and ``installed``."""
    recorded, complete = facts.recorded_distributions(manifest)
    reasons, warnings = [], []
    critical = facts.critical_names(manifest, installed)
    for name in critical:
        then, now = recorded.get(name), installed.get(name)
        if not complete and then is None:
            continue  # an older manifest recorded only a few versions: this one is not known
        if then != now:
            reasons.append(f"{name} {then or '(not installed)'} in the run, {now or '(not installed)'} installed now")
    if not complete:
        warnings.append("the manifest records the versions of only a few distributions: the others are not "
                        "compared")
        return reasons, warnings
    others = [n for n in sorted(set(recorded) | set(installed))
              if n not in critical and recorded.get(n) != installed.get(n)]
    if others:
        named = ", ".join(f"{n} {recorded.get(n) or '(none)'} -> {installed.get(n) or '(none)'}"
                          for n in others[:_SHOWN])
        more = f" and {len(others) - _SHOWN} more" if len(others) > _SHOWN else ""
        warnings.append(f"other distributions differ from the run's: {named}{more}")
    return reasons, warnings


def device_reasons(manifest: Mapping[str, Any]) -> list[str]:
    """The run's device type (cuda, mps) when this machine lacks it (or has fewer GPUs)."""
    device = str(facts.field(manifest, "hardware.device") or "cpu")
    world = int(facts.field(manifest, "hardware.world_size") or 1)
    if device.startswith("cuda"):
        import torch

        have = torch.cuda.device_count() if torch.cuda.is_available() else 0
        gpu = facts.field(manifest, "hardware.gpu")
        if have < world:
            what = f"{world} CUDA GPUs" if world > 1 else "a CUDA GPU"
            return [f"the run trained on {device}" + (f" ({gpu})" if gpu else "")
                    + f" with {what}; this machine has {have}"]
    elif device.startswith("mps"):
        import torch

        if not torch.backends.mps.is_available():
            return [f"the run trained on {device} (Apple MPS); this machine has no MPS device"]
    return []


def schedule_reasons(config: RunConfig, steps: int) -> list[str]:
    """A run without ``max_steps`` or ``max_tokens`` (ended by ``max_time``) decays its
    learning rate over no known length: a re-run that stops after ``steps`` steps would
    decay over those, unless the rate does not depend on the length there."""
    cfg = config.trainer
    if cfg.max_steps is not None or cfg.max_tokens is not None or cfg.schedule == "constant":
        return []
    if steps - 1 <= cfg.warmup_steps:
        return []
    return [f"the run has neither trainer.max_steps nor trainer.max_tokens (it ended by max_time), so its "
            f"{cfg.schedule} schedule has no length a {steps}-step re-run could keep"]


def machine_warnings(run: RunDir, manifest: Mapping[str, Any]) -> list[str]:
    """Differences of this machine from the run's that are not expected to change the numbers."""
    from codex_core.environment import git_state

    warnings = []
    sha, dirty = facts.git_state(manifest)
    now = git_state()
    if sha and now["sha"] and sha != now["sha"]:
        warnings.append(f"git: the run was at {sha[:12]}, the working directory is at {now['sha'][:12]}")
    if dirty:
        warnings.append("git: the run's working directory had uncommitted changes")
    elif sha and now["dirty"]:
        warnings.append("git: the working directory has uncommitted changes, the run's had none")
    then_cpu, now_cpu = facts.field(manifest, "environment.cpu.model"), facts.cpu_model_now()
    if then_cpu and now_cpu and then_cpu != now_cpu:
        warnings.append(f"CPU: the run had {then_cpu}, this machine has {now_cpu}")
    then_machine = facts.field(manifest, "environment.machine", facts.field(manifest, "hardware.machine"))
    if then_machine and then_machine != platform.machine():
        warnings.append(f"machine: the run ran on {then_machine}, this is {platform.machine()}")
    then_python = facts.field(manifest, "environment.python.version", manifest.get("python"))
    if then_python and then_python != platform.python_version():
        warnings.append(f"python: {then_python} in the run, {platform.python_version()} now")
    threads, cpus = facts.thread_count(manifest), facts.cpu_count_now()
    if threads and cpus and threads > cpus:
        warnings.append(f"threads: the run used {threads} threads, this machine has {cpus} CPUs (the re-run "
                        "uses the run's count, oversubscribed)")
    warnings += plugin_warnings(manifest)
    changed = sorted(p.name for p in run.path.glob("config.until-step-*.yaml"))
    if changed:
        warnings.append(f"the run was resumed with a changed config ({', '.join(changed)}): the re-run uses the "
                        "last config for every step")
    return warnings


def plugin_warnings(manifest: Mapping[str, Any]) -> list[str]:
    """Plugins that loaded for the run but do not load now, or the other way round."""
    recorded = facts.field(manifest, "environment.plugins")
    if not isinstance(recorded, list):
        return []
    from codex_core.plugins import get_plugin_manager

    then = {p.get("name"): p.get("status") for p in recorded if isinstance(p, Mapping)}
    now = {info.name: info.status for info in get_plugin_manager().infos()}
    changed = [f"{name} {then.get(name) or '(absent)'} -> {now.get(name) or '(absent)'}"
               for name in sorted(set(then) | set(now), key=str)
               if (then.get(name) == "ok") != (now.get(name) == "ok")]
    return [f"plugins load differently from the run: {', '.join(changed)}"] if changed else []
