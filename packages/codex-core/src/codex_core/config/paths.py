"""Paths in a config file: taken relative to the folder of the file that set them.

A params model marks a field that holds a path with :data:`ConfigPath` (``list[ConfigPath]``
for several, ``ConfigPath | None`` when optional). The loader rewrites such values absolute
in the tree it returns, using where each key was set (``LoadedConfig.origins``):

* set in a config file: relative to that file's folder (``extends`` parents included);
* set by an override, or by the built-in default config: relative to the working directory;
* ``~`` is expanded; absolute paths stay as they are; URLs (``scheme://...``) and empty
  strings are left alone; a relative glob is joined to the folder like any other path.

A mapping that holds another component's params (a tokenizer trained on a dataset) is
marked with :class:`ParamsOf`, so the paths inside it are resolved by that component's
params model.
"""

from __future__ import annotations

import logging
import os
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel

from codex_core.config.errors import origin_of
from codex_core.errors import ComponentError

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.registry import Registry

log = logging.getLogger("codex.config")

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


@dataclass(frozen=True)
class PathMarker:
    """``Annotated`` metadata: this string is a path in a config file. ``keep`` lists words
    that are not paths (compared case-insensitively) and are left as they are."""

    keep: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParamsOf:
    """``Annotated`` metadata: this mapping holds the params of the ``kind`` component that
    the sibling field ``name_field`` names (e.g. a tokenizer's ``dataset_params``)."""

    kind: str
    name_field: str


ConfigPath = Annotated[str, PathMarker()]
"""A ``str`` that, in a config file, is relative to the folder of that file."""


def resolve_path(value: str, folder: str | Path | None) -> str:
    """``value`` made absolute from ``folder`` (None: the working directory); ``~`` is
    expanded, URLs and the empty string are returned as they are."""
    if not value or _URL.match(value):
        return value
    path = os.path.expanduser(value)
    if not os.path.isabs(path):
        path = os.path.join(os.fspath(folder) if folder is not None else os.getcwd(), path)
    return os.path.normpath(path)


def _folder(key: str, origins: Mapping[str, str]) -> str | None:
    """The folder of the file that set ``key``; None for an override or the built-in
    default (files are recorded by their absolute path, nothing else is absolute)."""
    origin = origin_of(key, origins)
    return os.path.dirname(origin) if origin and os.path.isabs(origin) else None


class _Resolver:
    def __init__(self, origins: Mapping[str, str], registry: Callable[[], Registry]) -> None:
        self.origins = origins
        self._registry = registry

    def params_model(self, kind: str, name: Any) -> type[BaseModel] | None:
        """The params model of a registered component; None when it is not installed here
        (the config may be meant for another machine) or its model cannot be imported
        (building or validating the component reports that)."""
        registry = self._registry()
        if not isinstance(name, str) or (kind, name) not in registry:
            return None
        try:
            return registry.get(kind, name).load_config()
        except ComponentError as exc:
            log.debug("paths in the params of %s %r not resolved: %s", kind, name, exc)
            return None

    def model(self, model: type[BaseModel], data: Any, key: str) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        prefix = f"{key}." if key else ""
        for name, field in model.model_fields.items():
            label = field.alias if field.alias and field.alias in data else name
            if label not in data:
                continue
            value, here = data[label], f"{prefix}{label}"
            for meta in field.metadata:
                if isinstance(meta, PathMarker):
                    value = self.path(meta, value, here)
                elif isinstance(meta, ParamsOf):
                    inner = self.params_model(meta.kind, data.get(meta.name_field))
                    value = value if inner is None else self.model(inner, value, here)
            out[label] = self.value(field.annotation, value, here)
        return out

    def path(self, marker: PathMarker, value: Any, key: str) -> Any:
        if not isinstance(value, str) or value.strip().lower() in marker.keep:
            return value
        return resolve_path(value, _folder(key, self.origins))

    def value(self, annotation: Any, value: Any, key: str) -> Any:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is Annotated:
            for meta in annotation.__metadata__:
                if isinstance(meta, PathMarker):
                    return self.path(meta, value, key)
            return self.value(args[0], value, key)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return self.model(annotation, value, key)
        if origin in (typing.Union, types.UnionType):
            for arm in args:
                new = self.value(arm, value, key)
                if new != value:
                    return new
            return value
        if isinstance(value, list) and origin in (list, tuple, set, frozenset, Sequence):
            fixed = origin is tuple and not (len(args) == 2 and args[1] is Ellipsis)
            items = [args[i] if i < len(args) else Any for i in range(len(value))] if fixed else (
                [args[0] if args else Any] * len(value))
            return [self.value(a, v, f"{key}.{i}") for i, (a, v) in enumerate(zip(items, value, strict=True))]
        if isinstance(value, dict) and origin in (dict, Mapping) and len(args) == 2:
            return {k: self.value(args[1], v, f"{key}.{k}") for k, v in value.items()}
        return value


def resolve_paths(
    tree: dict[str, Any],
    origins: Mapping[str, str],
    model: type[BaseModel],
    components: Sequence[tuple[str, str]],
    registry: Registry | None = None,
) -> dict[str, Any]:
    """``tree`` with every path field made absolute (see the module doc).

    ``model`` is the config schema (its own path fields, like ``data.safety``);
    ``components`` the ``(key, kind)`` of each component reference, whose params are
    resolved by the params model registered for its name. ``key`` may end in ``.*`` for
    a list of references. ``registry``: default, the installed plugins' registry, looked
    up only when some component has params.
    """
    found: list[Registry] = [registry] if registry is not None else []

    def get_registry() -> Registry:
        if not found:
            from codex_core.plugins import get_plugin_manager

            found.append(get_plugin_manager().registry)
        return found[0]

    resolver = _Resolver(origins, get_registry)
    out: dict[str, Any] = resolver.model(model, tree, "")
    for key, kind in components:
        *parents, last = (key[:-2] if key.endswith(".*") else key).split(".")
        node: Any = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or last not in node:
            continue
        base = ".".join([*parents, last])
        if key.endswith(".*"):
            if isinstance(node[last], list):
                node[last] = [_component(resolver, kind, ref, f"{base}.{i}") for i, ref in enumerate(node[last])]
        else:
            node[last] = _component(resolver, kind, node[last], key)
    return out


def _component(resolver: _Resolver, kind: str, ref: Any, key: str) -> Any:
    if not isinstance(ref, dict) or not isinstance(ref.get("params"), dict) or not ref["params"]:
        return ref
    params_model = resolver.params_model(kind, ref.get("name"))
    if params_model is None:
        return ref
    return {**ref, "params": resolver.model(params_model, ref["params"], f"{key}.params")}
