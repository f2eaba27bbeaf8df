"""``codex repro show RUN``: a run's manifest for people, in sections (run, seeds, config hash,
data, tokenizer, model, environment summary, git). ``--json`` prints the manifest as it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codex_models.repro import facts


def manifest_sections(manifest: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, Any]]]]:
    """``[(section, [(label, value), ...]), ...]``; labels whose value is not recorded are left out."""
    f = facts.field
    seeds = facts.seeds(manifest)
    sha, dirty = facts.git_state(manifest)
    recorded = manifest.get("components")
    components: Mapping[str, Any] = recorded if isinstance(recorded, Mapping) else {}
    sources = facts.recorded_sources(manifest)
    sections: list[tuple[str, list[tuple[str, Any]]]] = [
        ("run", [("name", manifest.get("name")), ("status", manifest.get("status")),
                 ("created", manifest.get("created_at")), ("final step", manifest.get("final_step")),
                 ("stop reason", manifest.get("stop_reason")),
                 ("checkpoints", _checkpoints(manifest)), ("description", manifest.get("description") or None),
                 ("tags", ", ".join(manifest.get("tags") or []) or None)]),
        ("seeds", [("run", seeds.get("run")), ("data split", seeds.get("data_split")),
                   ("deterministic", manifest.get("deterministic"))]),
        ("config", [("hash", manifest.get("config_hash"))]),
        ("data", [("dataset", _component(components, "dataset")), ("fingerprint", facts.data_fingerprint(manifest)),
                  ("split seed", f(manifest, "data.split_seed")), ("token cache", f(manifest, "data.token_cache")),
                  ("tokens", _tokens(manifest)),
                  ("sources", _sources(sources)),
                  ("tokens per step", manifest.get("tokens_per_step"))]),
        ("tokenizer", [("component", _component(components, "tokenizer")),
                       ("fingerprint", facts.tokenizer_fingerprint(manifest)),
                       ("vocab size", f(manifest, "tokenizer.vocab_size"))]),
        ("model", [("component", _component(components, "model")), ("params", f(manifest, "model.params")),
                   ("trainable", f(manifest, "model.trainable")), ("dtype", f(manifest, "model.dtype")),
                   ("device", f(manifest, "hardware.device")), ("world size", f(manifest, "hardware.world_size"))]),
        ("environment", environment_summary(manifest)),
        ("git", [("sha", sha), ("dirty", dirty)]),
    ]
    return [(name, [(k, v) for k, v in rows if v is not None and v != ""]) for name, rows in sections]


def environment_summary(manifest: Mapping[str, Any]) -> list[tuple[str, Any]]:
    f = facts.field
    python = f(manifest, "environment.python.version", manifest.get("python"))
    implementation = f(manifest, "environment.python.implementation")
    cpu = f(manifest, "environment.cpu.model")
    count = f(manifest, "environment.cpu.count")
    threads = f(manifest, "environment.threads.torch", f(manifest, "hardware.cpu_threads"))
    interop = f(manifest, "environment.threads.torch_interop")
    env = f(manifest, "environment.threads.env") or {}
    distributions, complete = facts.recorded_distributions(manifest)
    codex = {n: v for n, v in distributions.items() if n.startswith("codex-")}
    plugins = f(manifest, "environment.plugins")
    return [
        ("python", " ".join(str(p) for p in (implementation, python) if p) or None),
        ("platform", f(manifest, "environment.platform", manifest.get("platform"))),
        ("cpu", " ".join(str(p) for p in (cpu, f"({count} CPUs)" if count else None) if p) or None),
        ("threads", (f"torch {threads}" + (f", interop {interop}" if interop else "")
                     + "".join(f", {k}={v}" for k, v in sorted(env.items()))) if threads else None),
        ("torch", _torch(manifest)),
        ("distributions", f"{len(distributions)} installed" if complete else
         (f"{len(distributions)} recorded" if distributions else None)),
        ("codex packages", ", ".join(f"{n} {v}" for n, v in sorted(codex.items())) or None),
        ("plugins", ", ".join(_plugin(p) for p in plugins if isinstance(p, Mapping))
         if isinstance(plugins, list) and plugins else None),
    ]


def _torch(manifest: Mapping[str, Any]) -> str | None:
    f = facts.field
    build = f(manifest, "environment.torch")
    version = build.get("version") if isinstance(build, Mapping) else facts.recorded_distributions(manifest)[0].get(
        "torch")
    if not version:
        return None
    parts = [str(version)]
    if isinstance(build, Mapping):
        shown = {"cuda": f"CUDA {build.get('cuda')}", "cudnn": f"cuDNN {build.get('cudnn')}", "mps": "MPS",
                 "gpus": ", ".join(map(str, build.get("gpus") or [])),
                 "deterministic_algorithms": "deterministic algorithms"}
        parts += [text for key, text in shown.items() if build.get(key)]
    elif f(manifest, "hardware.gpu"):
        parts.append(str(f(manifest, "hardware.gpu")))
    return ", ".join(parts)


def _plugin(plugin: Mapping[str, Any]) -> str:
    version = plugin.get("version")
    status = plugin.get("status")
    return f"{plugin.get('name')}" + (f" {version}" if version else "") + (f" [{status}]" if status != "ok" else "")


def _component(components: Mapping[str, Any], kind: str) -> str | None:
    entry = components.get(kind)
    if not isinstance(entry, Mapping) or not entry.get("name"):
        return None
    by = entry.get("distribution") or entry.get("plugin")
    return f"{entry['name']}" + (f" (from {by})" if by else "")


def _checkpoints(manifest: Mapping[str, Any]) -> str | None:
    best, last = manifest.get("best_checkpoint"), manifest.get("last_checkpoint")
    if not best and not last:
        return None
    return ", ".join(p for p in (f"best {best}" if best else "", f"last {last}" if last else "") if p)


def _sources(sources: list[dict[str, str]]) -> str | None:
    if not sources:
        return None
    files = [s for s in sources if not s["uri"].startswith("dataset:")]
    dataset = [s for s in sources if s["uri"].startswith("dataset:")]
    return (f"{len(files)} files" if files else "") + (", " if files and dataset else "") + ", ".join(
        f"{s['uri']} {s['sha256'][:12]}" for s in dataset)


def _tokens(manifest: Mapping[str, Any]) -> str | None:
    train, val = facts.field(manifest, "data.train_tokens"), facts.field(manifest, "data.val_tokens")
    if train is None:
        return None
    return f"{train} train, {val or 0} val"


def text_lines(manifest: Mapping[str, Any]) -> list[str]:
    lines = []
    for name, rows in manifest_sections(manifest):
        lines.append(name)
        if not rows:
            lines.append("  (not recorded)")
            continue
        width = max(len(k) for k, _ in rows)
        lines += [f"  {k:<{width}}  {_shown(v)}" for k, v in rows]
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
