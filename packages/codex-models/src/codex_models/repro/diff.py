"""``codex repro diff RUN_A RUN_B``: why two runs differ, most decisive first.

In this order: the resolved configs' keys (model, tokenizer, data, trainer, then the rest;
not ``run.name``, ``run.runs_dir``, ``run.description``, ``run.tags``), the seeds, the data
(fingerprint, sources), the tokenizer fingerprint, distribution versions (those that decide
the numbers first), hardware (device, world size, threads, CPU model, GPUs), the environment
(torch build, python, platform, plugins), and the git state. What every two runs differ in is
never listed: timestamps, names, paths (token cache, argv), hostnames, statuses and results.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from codex_models.repro import facts

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.runs import RunDir

ABSENT = "(absent)"
IGNORED_CONFIG = ("run.name", "run.runs_dir", "run.description", "run.tags", "run.seed", "data.split.seed")
"""Config keys that are not differences (``run.seed`` and ``data.split.seed`` are listed as seeds)."""
SECTIONS = ("model", "tokenizer", "data", "trainer", "metrics", "loggers", "telemetry")
MAX_SOURCES = 20  # data sources listed one by one; the rest are counted

HARDWARE = (("device", "hardware.device"), ("world_size", "hardware.world_size"),
            ("threads", "hardware.cpu_threads"), ("threads.torch", "environment.threads.torch"),
            ("threads.torch_interop", "environment.threads.torch_interop"),
            ("cpu.model", "environment.cpu.model"), ("machine", "environment.machine", "hardware.machine"),
            ("gpu", "hardware.gpu"), ("gpus", "environment.torch.gpus"))
ENVIRONMENT = (("torch.cuda", "environment.torch.cuda"), ("torch.cudnn", "environment.torch.cudnn"),
               ("torch.mps", "environment.torch.mps"),
               ("torch.deterministic_algorithms", "environment.torch.deterministic_algorithms"),
               ("torch.cublas_workspace_config", "environment.torch.cublas_workspace_config"),
               ("python", "environment.python.version", "python"),
               ("python.implementation", "environment.python.implementation"),
               ("platform", "environment.platform", "platform"))


def diff_runs(a: RunDir, b: RunDir) -> list[dict[str, Any]]:
    """The differences between runs ``a`` and ``b``, most decisive first: each
    ``{"kind", "key", "a", "b"}`` (:data:`ABSENT` where one side has no value)."""
    ma, mb = a.read_manifest(), b.read_manifest()
    ca, cb = config_tree(a), config_tree(b)
    found = config_differences(ca, cb)
    data, tokenizer = data_differences(ma, mb), _pairs("tokenizer", {"fingerprint": facts.tokenizer_fingerprint(ma)},
                                                      {"fingerprint": facts.tokenizer_fingerprint(mb)})
    # The same data (or tokenizer) read from another folder: its paths are no difference.
    if not data and facts.recorded_sources(ma):
        found = _without_paths(found, "data.params.")
    if not tokenizer and facts.tokenizer_fingerprint(ma):
        found = _without_paths(found, "tokenizer.params.")
    sa, sb = facts.seeds(ma, ca), facts.seeds(mb, cb)
    found += _pairs("seed", {"run.seed": sa.get("run"), "data.split.seed": sa.get("data_split")},
                    {"run.seed": sb.get("run"), "data.split.seed": sb.get("data_split")})
    found += data + tokenizer
    found += version_differences(ma, mb)
    found += _pairs("hardware", _fields(ma, HARDWARE), _fields(mb, HARDWARE))
    found += _pairs("hardware", _thread_env(ma), _thread_env(mb))
    found += _pairs("environment", _fields(ma, ENVIRONMENT), _fields(mb, ENVIRONMENT))
    found += _pairs("environment", _plugins(ma), _plugins(mb))
    (sha_a, dirty_a), (sha_b, dirty_b) = facts.git_state(ma), facts.git_state(mb)
    found += _pairs("git", {"sha": sha_a, "dirty": dirty_a}, {"sha": sha_b, "dirty": dirty_b})
    return found


def config_tree(run: RunDir) -> dict[str, Any]:
    """The run's resolved ``config.yaml`` with every default filled in, the components'
    params included (so a param left at its default and one set to that default are the
    same); as written when it no longer validates; {} when there is none."""
    import yaml

    from codex_core.errors import RunDirError

    if not run.config_path.is_file():
        return {}
    try:
        tree = yaml.safe_load(run.config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RunDirError(f"{run.config_path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return _with_defaults(run) or (tree if isinstance(tree, dict) else {})


def _with_defaults(run: RunDir) -> dict[str, Any] | None:
    from codex_core.config import load_config
    from codex_core.errors import CodexError
    from codex_core.plugins import get_plugin_manager

    try:
        config = load_config(run.config_path).config
    except CodexError:
        return None
    tree = config.to_dict()
    registry = get_plugin_manager().registry
    for kind, key, ref in config.component_refs():
        try:
            params = registry.get(kind, ref.name).validate_params(ref.params)
        except CodexError:  # not installed here, or its params no longer validate: as written
            continue
        node: Any = tree
        for part in key.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        if params is not None:
            node["params"] = params.model_dump(mode="json")
    return tree


def config_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dotted keys whose values differ between two config trees, by section (model first)."""
    from codex_core.config.components import flatten

    fa, fb = flatten(dict(a)), flatten(dict(b))
    keys = [k for k in set(fa) | set(fb)
            if not any(k == skip or k.startswith(skip + ".") for skip in IGNORED_CONFIG)]

    def order(key: str) -> tuple[int, str]:
        section = key.split(".", 1)[0]
        return (SECTIONS.index(section) if section in SECTIONS else len(SECTIONS), key)

    return _pairs("config", {k: fa.get(k, ABSENT) for k in keys}, {k: fb.get(k, ABSENT) for k in keys},
                  sort=order)


def _without_paths(found: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """``found`` without the config keys under ``prefix`` whose two values are absolute paths
    (a resolved config holds every path absolute)."""
    import os

    def path(value: Any) -> bool:
        return isinstance(value, str) and os.path.isabs(value)

    return [d for d in found if not (d["key"].startswith(prefix) and path(d["a"]) and path(d["b"]))]


def data_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = _pairs("data", {"fingerprint": facts.data_fingerprint(a)}, {"fingerprint": facts.data_fingerprint(b)})
    sa = {s["uri"]: s["sha256"] for s in facts.recorded_sources(a)}
    sb = {s["uri"]: s["sha256"] for s in facts.recorded_sources(b)}
    sources = _pairs("data", {f"sources.{k}": v for k, v in sa.items()}, {f"sources.{k}": v for k, v in sb.items()})
    if len(sources) > MAX_SOURCES:
        more = len(sources) - MAX_SOURCES
        sources = [*sources[:MAX_SOURCES],
                   {"kind": "data", "key": "sources", "a": f"{more} more differ", "b": f"{more} more differ"}]
    return found + sources


def version_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Distribution versions: the critical ones (torch, numpy, ..., codex-*, the components'
    distributions) first, then the others. A distribution absent on a side that recorded only a
    few versions (an older manifest) is not a difference."""
    va, complete_a = facts.recorded_distributions(a)
    vb, complete_b = facts.recorded_distributions(b)
    critical = set(facts.critical_names(a, vb)) | set(facts.critical_names(b, va))
    names = [n for n in set(va) | set(vb)
             if (n in va or complete_a) and (n in vb or complete_b)]
    return _pairs("version", {n: va.get(n, ABSENT) for n in names}, {n: vb.get(n, ABSENT) for n in names},
                  sort=lambda n: (n not in critical, n not in facts.CRITICAL, n))


def _fields(manifest: Mapping[str, Any], spec: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """``{key: value}`` for ``(key, dotted path, fallback path...)`` entries (ABSENT where none is
    recorded)."""
    found = {}
    for key, *paths in spec:
        value: Any = ABSENT
        for path in paths:
            value = facts.field(manifest, path, ABSENT)
            if value is not ABSENT:
                break
        found[key] = value
    return found


def _thread_env(manifest: Mapping[str, Any]) -> dict[str, Any]:
    env = facts.field(manifest, "environment.threads.env")
    return {f"threads.env.{k}": v for k, v in env.items()} if isinstance(env, Mapping) else {}


def _plugins(manifest: Mapping[str, Any]) -> dict[str, Any]:
    plugins = facts.field(manifest, "environment.plugins")
    if not isinstance(plugins, list):
        return {}
    return {f"plugins.{p.get('name')}": p.get("status") for p in plugins if isinstance(p, Mapping)}


def _pairs(kind: str, a: Mapping[str, Any], b: Mapping[str, Any], sort: Any = None) -> list[dict[str, Any]]:
    """One difference per key whose values differ (a key missing on a side reads ABSENT); a key
    neither side recorded (ABSENT or None on both) is no difference."""
    keys = sorted(set(a) | set(b), key=sort) if sort is not None else [*a, *(k for k in b if k not in a)]
    found = []
    for key in keys:
        va, vb = a.get(key, ABSENT), b.get(key, ABSENT)
        if va != vb and not (_unknown(va) and _unknown(vb)):
            found.append({"kind": kind, "key": key, "a": va, "b": vb})
    return found


def _unknown(value: Any) -> bool:
    return value is None or value == ABSENT


def text_lines(differences: list[dict[str, Any]]) -> list[str]:
    """``KIND  KEY  A  B`` lines, aligned ("no differences" when there are none)."""
    if not differences:
        return ["no differences"]
    rows = [(d["kind"], d["key"], _text(d["a"]), _text(d["b"])) for d in differences]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows]


def _text(value: Any) -> str:
    import json

    if isinstance(value, str):
        if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return value[:12]  # a sha256
        return value
    return json.dumps(value)
