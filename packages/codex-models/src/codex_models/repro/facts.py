"""What a run's manifest records, and the same facts about this machine now.

The readers accept the manifests of older runs too (before ``environment``, ``seeds`` and
``data.sources`` were recorded): each falls back to the older field, or says it has nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

CRITICAL = ("torch", "numpy", "transformers", "tokenizers", "peft")
"""Distributions whose version decides the numbers a run computes (with every ``codex-*``
distribution and those that provided the run's components)."""

TIMING = ("train/tokens_per_s", "train/elapsed_s", "train/mfu")
"""Metrics that measure time, never compared (with everything under ``system/``)."""



def field(manifest: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """``manifest["a"]["b"]`` for ``"a.b"``; ``default`` where a level is missing."""
    node: Any = manifest
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503: lower case, runs of ``-_.`` as ``-``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def recorded_distributions(manifest: Mapping[str, Any]) -> tuple[dict[str, str], bool]:
    """The distributions the run recorded, by normalized name, and whether that is every
    installed one (``environment.distributions``) or only a few (the older ``versions``)."""
    every = field(manifest, "environment.distributions")
    if isinstance(every, Mapping) and every:
        return {normalize(k): str(v) for k, v in every.items()}, True
    few = manifest.get("versions")
    return ({normalize(k): str(v) for k, v in few.items()} if isinstance(few, Mapping) else {}), False


def installed_distributions() -> dict[str, str]:
    """Every distribution installed now, by normalized name."""
    from codex_core.environment import distributions

    return {normalize(name): version for name, version in distributions().items()}


def component_distributions(manifest: Mapping[str, Any]) -> list[str]:
    """The distributions that provided the run's components (``components.*.distribution``)."""
    components = manifest.get("components")
    if not isinstance(components, Mapping):
        return []
    names = [c.get("distribution") for c in components.values() if isinstance(c, Mapping)]
    return sorted({normalize(n) for n in names if isinstance(n, str) and n})


def critical_names(manifest: Mapping[str, Any], *others: Iterable[str]) -> list[str]:
    """The distributions whose version must match for a run to be re-run exactly: CRITICAL,
    every ``codex-*`` one (recorded or in ``others``), the components' distributions."""
    names = set(CRITICAL) | set(component_distributions(manifest))
    for group in (recorded_distributions(manifest)[0], *others):
        names |= {n for n in group if n.startswith("codex-")}
    return [*CRITICAL, *sorted(names - set(CRITICAL))]


def recorded_sources(manifest: Mapping[str, Any]) -> list[dict[str, str]]:
    """The data sources the run trained from (``data.sources``, else the token cache key's)."""
    sources = field(manifest, "data.sources")
    if not isinstance(sources, list):
        sources = field(manifest, "data.key.sources")
    if not isinstance(sources, list):
        return []
    return [{"uri": str(s.get("uri")), "sha256": str(s.get("sha256"))} for s in sources if isinstance(s, Mapping)]


def data_fingerprint(manifest: Mapping[str, Any]) -> str | None:
    value = field(manifest, "data.fingerprint")
    return str(value) if value else None


def tokenizer_fingerprint(manifest: Mapping[str, Any]) -> str | None:
    value = field(manifest, "tokenizer.fingerprint")
    return str(value) if value else None


def seeds(manifest: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"run": ..., "data_split": ...}``: the manifest's ``seeds``, else the config's."""
    recorded = manifest.get("seeds")
    if isinstance(recorded, Mapping) and recorded:
        return dict(recorded)
    config = config or {}
    return {"run": field(config, "run.seed", manifest.get("seed")), "data_split": field(config, "data.split.seed")}


def git_state(manifest: Mapping[str, Any]) -> tuple[str | None, bool | None]:
    """The run's git sha and dirty flag (``git``, else the older ``git_sha``)."""
    git = manifest.get("git")
    if isinstance(git, Mapping):
        return git.get("sha"), git.get("dirty")
    return manifest.get("git_sha"), None


def thread_count(manifest: Mapping[str, Any]) -> int | None:
    """The torch threads of the run's (rank 0) process."""
    value = field(manifest, "hardware.cpu_threads", field(manifest, "environment.threads.torch"))
    return int(value) if isinstance(value, int) and value > 0 else None


def cpu_model_now() -> str | None:
    """This machine's CPU model name (as the manifest records it)."""
    from codex_core.environment import cpu

    model = cpu().get("model")
    return str(model) if model else None


def cpu_count_now() -> int | None:
    from codex_core.environment import cpu

    found = cpu()
    count = found.get("affinity") or found.get("count")
    return int(count) if count else None
