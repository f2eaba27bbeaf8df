"""Checking a config's component references against the registry, and the JSON schema
of the run config including every registered component's params."""

from __future__ import annotations

import copy
from typing import Any

from codex_core.config.schema import RunConfig
from codex_core.errors import CodexError, ComponentError, ConfigError
from codex_core.protocols import metric_inputs
from codex_core.registry import PROVIDERS, Registry


def validate_components(config: RunConfig, registry: Registry, *, strict: bool = False) -> list[str]:
    """Check every referenced component's name and params.

    A name no installed plugin provides is a warning (a config written for another machine
    still validates with codex-core alone) unless ``strict``; bad params are always errors.
    Returns the warnings.
    """
    warnings: list[str] = []
    for kind, path, ref in config.component_refs():
        if (kind, ref.name) not in registry:
            try:
                registry.get(kind, ref.name)
            except ComponentError as exc:
                message = f"{path}: {exc}"
                if strict or registry.names(kind):
                    raise ConfigError(message) from None
                warnings.append(
                    f"{path}: {kind} {ref.name!r} is not installed here (not checked); "
                    f"{PROVIDERS[kind]} provides the built-in {kind}s"
                )
            continue
        spec = registry.get(kind, ref.name)
        try:
            spec.validate_params(ref.params)
            if kind == "metric" and "tokens" not in metric_inputs(spec.load_factory()):
                raise ConfigError(
                    f"metric {ref.name!r} scores text, not the next-token predictions that a run "
                    "config's metrics: are given",
                    hint="use it in an evaluation task instead (trainer.eval_tasks or codex eval "
                    "--task generation:metrics=[...])")
        except CodexError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return warnings


def json_schema(registry: Registry | None = None) -> dict[str, Any]:
    """JSON schema of the run config; with a registry, each component reference becomes a
    choice among the registered components, each with its own params schema."""
    schema = RunConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    if registry is None:
        return schema
    defs = schema.setdefault("$defs", {})
    kind_refs: dict[str, str] = {}
    shorthands: dict[str, dict[str, Any]] = {}
    for kind in ("tokenizer", "dataset", "model", "logger", "metric"):
        choices: list[dict[str, Any]] = []
        all_names: list[str] = []
        for spec in registry.list(kind):
            params: dict[str, Any] = {"type": "object", "maxProperties": 0}
            try:
                model = spec.load_config()
            except ComponentError as exc:
                params = {"type": "object", "description": f"params model unavailable: {exc}"}
                model = None
            if model is not None:
                sub = model.model_json_schema(ref_template=f"#/$defs/{kind}.{spec.name}.{{model}}")
                for name, body in sub.pop("$defs", {}).items():
                    defs[f"{kind}.{spec.name}.{name}"] = body
                params = sub
            names = [spec.name, *spec.aliases]
            all_names += names
            choices.append({
                "type": "object",
                "description": spec.description or f"{kind} {spec.name} ({spec.plugin})",
                "properties": {"name": {"enum": names}, "params": params},
                "required": ["name"],
            })
        if choices:
            shorthand = {"type": "string", "description": "a component name (no params)",
                         "enum": sorted(all_names)}
            defs[f"{kind}Ref"] = {"anyOf": [*choices, shorthand]}
            shorthands[kind] = shorthand
            kind_refs[kind] = f"#/$defs/{kind}Ref"
    props = schema["properties"]
    for key, kind in (("tokenizer", "tokenizer"), ("model", "model")):
        if kind in kind_refs:
            props[key] = {"$ref": kind_refs[kind]}
    for key, kind in (("loggers", "logger"), ("metrics", "metric")):
        if kind in kind_refs:
            props[key] = {**copy.deepcopy(props[key]), "items": {"$ref": kind_refs[kind]}}
    if "dataset" in kind_refs:
        props["data"] = {"anyOf": [
            {"allOf": [{"$ref": "#/$defs/DataSection"}, {"$ref": kind_refs["dataset"]}]},
            shorthands["dataset"],
        ]}
    return schema


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "l": [x]}`` -> ``{"a.b": 1, "l.0": x}`` (leaves only)."""
    out: dict[str, Any] = {}
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(tree, list) and tree:
        for i, value in enumerate(tree):
            out.update(flatten(value, f"{prefix}{i}."))
    else:
        out[prefix.rstrip(".")] = tree
    return out
