"""Loading a run config: YAML files with ``extends``, ``${env:VAR}`` interpolation,
``key=value`` overrides, then validation into :class:`RunConfig`.

Every leaf value remembers where it came from (a file or an override) so that errors name
the file and key path.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from codex_core.config.errors import check_unknown_keys, format_validation_error
from codex_core.config.overrides import Override, apply_override, parse_override
from codex_core.config.paths import resolve_paths
from codex_core.config.schema import COMPONENT_FIELDS, RunConfig
from codex_core.errors import CodexError, ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.registry import Registry

DEFAULT_CONFIG = "default.yaml"
_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?:,([^}]*))?\}")


@dataclass
class LoadedConfig:
    """A validated config with the plain tree it came from and where each key was set."""

    config: RunConfig
    tree: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


def default_config_text() -> str:
    """The built-in default config (what ``codex train`` runs with no ``-c``)."""
    return resources.files("codex_core.config").joinpath(DEFAULT_CONFIG).read_text("utf-8")


def read_text_file(path: str | Path, what: str = "file", *, error: type[CodexError] = ConfigError) -> str:
    """The UTF-8 text of a file the user named (a run config, an eval config, a policy), or
    one line naming it (an ``error``) when it is missing, a directory, unreadable or not UTF-8
    text: a Latin-1 or binary file given as a config must not end in a UnicodeDecodeError."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} {file} not found", hint="check the path") from None
    except IsADirectoryError:
        raise error(f"{what} {file} is a directory, not a file", hint="give the file's path") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise error(f"{what} {file} is not UTF-8 text (line {line}, byte {exc.start}: {exc.reason})",
                    hint="save it as UTF-8, or check that it is the right file") from None
    except OSError as exc:
        raise error(f"cannot read {what} {file}: {exc.strerror or exc}") from None


def _yaml_mapping(text: str, label: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark else label
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML in {where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{label} must hold a mapping of sections (run, tokenizer, data, model, ...), "
            f"got {type(data).__name__}"
        )
    return data


def _record(tree: Any, origin: str, origins: dict[str, str], prefix: str = "") -> None:
    if isinstance(tree, dict):
        for key, value in tree.items():
            path = f"{prefix}{key}"
            origins[path] = origin
            _record(value, origin, origins, f"{path}.")
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            path = f"{prefix}{i}"
            origins[path] = origin
            _record(value, origin, origins, f"{path}.")


def deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _load_file(path: Path, origins: dict[str, str], sources: list[str],
               chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    try:
        path = path.resolve()
    except (OSError, ValueError) as exc:  # a NUL byte in 'extends', a symlink loop
        via = f" (extended by {chain[-1]})" if chain else ""
        raise ConfigError(f"invalid config file path {str(path)!r}{via}: {exc}") from None
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ConfigError(f"'extends' cycle: {cycle}")
    if not path.exists():
        via = f" (extended by {chain[-1]})" if chain else ""
        raise ConfigError(f"config file {path} not found{via}", hint="check the path")
    data = _yaml_mapping(read_text_file(path, "config file"), str(path))
    parents = data.pop("extends", None)
    if isinstance(parents, str):
        parents = [parents]
    if parents is not None and not (isinstance(parents, list) and all(isinstance(p, str) for p in parents)):
        raise ConfigError(f"'extends' in {path} must be a file name or a list of them")
    merged: dict[str, Any] = {}
    parent_origins: dict[str, str] = {}
    for parent in parents or []:
        merged = deep_merge(merged, _load_file(path.parent / parent, parent_origins, sources, (*chain, path)))
    origins.update(parent_origins)
    _record(data, str(path), origins)
    sources.append(str(path))
    return deep_merge(merged, data)


def _interpolate(tree: Any, origins: Mapping[str, str], path: str = "") -> Any:
    if isinstance(tree, dict):
        return {k: _interpolate(v, origins, f"{path}{k}.") for k, v in tree.items()}
    if isinstance(tree, list):
        return [_interpolate(v, origins, f"{path}{i}.") for i, v in enumerate(tree)]
    if not isinstance(tree, str) or "${" not in tree:
        return tree
    key = path.rstrip(".")

    def value_of(match: re.Match[str]) -> str:
        var, default = match.group(1), match.group(2)
        if var in os.environ:
            return os.environ[var]
        if default is not None:
            return default
        origin = origins.get(key)
        raise ConfigError(
            f"environment variable {var} is not set (used by '{key}'" + (f" in {origin})" if origin else ")"),
            hint=f"export {var}=..., or give a default: ${{env:{var},default}}",
        )

    whole = _ENV.fullmatch(tree)
    if whole:
        raw = value_of(whole)
        from codex_core.config.overrides import parse_value

        return parse_value(raw)
    if re.search(r"\$\{(?!env:)", tree):
        raise ConfigError(f"unsupported interpolation in '{key}': {tree!r}", hint="only ${env:VAR} is supported")
    return _ENV.sub(value_of, tree)


COMPONENT_KEYS = tuple(key for key, _ in COMPONENT_FIELDS if not key.endswith(".*"))
COMPONENT_LISTS = tuple(key[:-2] for key, _ in COMPONENT_FIELDS if key.endswith(".*"))


def expand_shorthands(tree: dict[str, Any]) -> dict[str, Any]:
    """Component references written as a bare name become ``{name: ...}`` in place, so
    overrides such as ``model.params.n_layer=4`` work on ``model: gpt2``."""
    for key in COMPONENT_KEYS:
        if isinstance(tree.get(key), str):
            tree[key] = {"name": tree[key]}
    for key in COMPONENT_LISTS:
        *parents, last = key.split(".")
        node: Any = tree
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(last), list):
            node[last] = [{"name": item} if isinstance(item, str) else item for item in node[last]]
    return tree


def _list_at(tree: Any, path: Sequence[str | int]) -> list[Any] | None:
    node = tree
    for part in path:
        if isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        else:
            return None
    return node if isinstance(node, list) else None


def _key(tree: Any, path: Sequence[str | int]) -> str:
    """The dotted key of ``path`` in ``tree``, negative list indices counted from the start."""
    node, parts = tree, []
    for part in path:
        if isinstance(node, list) and isinstance(part, int):
            part = part + len(node) if part < 0 else part
            node = node[part] if 0 <= part < len(node) else None
        else:
            node = node.get(str(part)) if isinstance(node, dict) else None
        parts.append(str(part))
    return ".".join(parts)


def _record_override(tree: dict[str, Any], ov: Override, origins: dict[str, str],
                     before: list[Any] | None) -> None:
    """Keep ``origins`` true after ``ov``: what it set comes from it, and list items that
    moved (others removed or deleted before them) keep where they came from.
    ``before``: a copy of the list that a remove or delete changed."""
    origin = f"override {ov.text!r}"
    list_path = ov.path if ov.op in ("append", "remove") else ov.path[:-1]
    key, here = _key(tree, list_path), _key(tree, ov.path)
    after = _list_at(tree, list_path)
    if before is not None and after is not None:
        moved: dict[int, int] = {}
        j = 0
        for i, item in enumerate(before):  # what is left is ``before`` less some items, in order
            if j < len(after) and after[j] is item:
                moved[i], j = j, j + 1
        renumbered: dict[str, str] = {}
        for name in [k for k in origins if k.startswith(f"{key}.")]:
            head, dot, rest = name[len(key) + 1:].partition(".")
            value = origins.pop(name)
            if head.isdigit() and int(head) in moved:
                renumbered[f"{key}.{moved[int(head)]}{dot}{rest}"] = value
        origins.update(renumbered)
        if ov.op == "delete":
            return
    origins[here] = origin
    if ov.op == "set":
        for stale in [k for k in origins if k.startswith(f"{here}.")]:
            del origins[stale]
        _record(ov.value, origin, origins, f"{here}.")
    elif ov.op == "append" and after is not None:
        origins[f"{key}.{len(after) - 1}"] = origin
        _record(ov.value, origin, origins, f"{key}.{len(after) - 1}.")


def load_tree(path: str | Path | None = None, overrides: Sequence[str] = (), *,
              registry: Registry | None = None) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The merged, overridden, interpolated plain tree (not yet validated), with every
    path field absolute (see :mod:`codex_core.config.paths`; ``registry`` finds the
    components' params models, default: the installed plugins')."""
    origins: dict[str, str] = {}
    sources: list[str] = []
    if path is None:
        tree = _yaml_mapping(default_config_text(), "built-in default config")
        _record(tree, "built-in default config", origins)
        sources.append("built-in default config")
        if "extends" in tree:
            raise ConfigError("the built-in default config cannot use 'extends'")
    else:
        tree = _load_file(Path(path), origins, sources)
    expand_shorthands(tree)
    for ov in [parse_override(o) for o in overrides]:
        changed = _list_at(tree, ov.path if ov.op == "remove" else ov.path[:-1])
        before = list(changed) if changed is not None and ov.op in ("remove", "delete") else None
        apply_override(tree, ov)
        _record_override(tree, ov, origins, before)
    tree = _interpolate(tree, origins)
    tree = resolve_paths(tree, origins, RunConfig, COMPONENT_FIELDS, registry)
    return tree, origins, sources


def validate_tree(tree: dict[str, Any], origins: Mapping[str, str] | None = None,
                  source: str | None = None) -> RunConfig:
    """Validate a plain tree into a RunConfig with clear, located errors (``source``
    names the file for problems no single key came from, such as a missing section)."""
    check_unknown_keys(RunConfig, tree, origins=origins)
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as exc:
        located = {"": source, **(origins or {})} if source else origins
        raise ConfigError(format_validation_error(exc, origins=located)) from None


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (), *,
                registry: Registry | None = None) -> LoadedConfig:
    """Load and validate a run config (``path=None``: the built-in default). Paths set in
    a file are relative to that file's folder; the result holds them absolute."""
    tree, origins, sources = load_tree(path, overrides, registry=registry)
    config = validate_tree(tree, origins, sources[-1] if sources else None)
    return LoadedConfig(config=config, tree=tree, origins=origins, sources=sources)
