"""Command-line overrides of a config tree.

Syntax (values are YAML)::

    a.b.c=value          set (creates missing mappings)
    loggers.1.name=csv   set a list item's field (indices may be negative)
    trainer.betas=[0.9,0.95]
    loggers+={name: csv} append an item to a list
    loggers-=csv         remove list items equal to the value, or components named so
    ~a.b                 delete a key (or a list item: ~loggers.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from codex_core.errors import ConfigError

Op = Literal["set", "append", "remove", "delete"]
_SEGMENT = re.compile(r"^(-?[0-9]+|[A-Za-z_][A-Za-z0-9_\-/]*)$")
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)$")


@dataclass(frozen=True)
class Override:
    text: str
    op: Op
    path: tuple[str | int, ...]
    value: Any = None

    @property
    def key(self) -> str:
        return ".".join(str(p) for p in self.path)


def parse_value(raw: str) -> Any:
    """A YAML value; ``1e-3`` is a float (plain YAML 1.1 would keep it a string)."""
    if _FLOAT.match(raw.strip(" \t")):
        return float(raw)
    try:
        return yaml.safe_load(raw) if raw.strip(" \t") else ""  # YAML whitespace only
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"cannot parse value {raw!r}: {problem}",
                          hint="quote strings with special characters, e.g. key='a: b'") from None


def parse_path(text: str, original: str) -> tuple[str | int, ...]:
    parts = text.split(".")
    out: list[str | int] = []
    for part in parts:
        if not _SEGMENT.match(part):
            raise ConfigError(
                f"invalid key path {text!r} in override {original!r}",
                hint="write key.sub.key=value, with integers for list items (loggers.0.name=csv)",
            )
        out.append(int(part) if re.fullmatch(r"-?[0-9]+", part) else part)
    return tuple(out)


def parse_override(text: str) -> Override:
    """Parse one ``key=value`` override (see the module doc for the forms)."""
    stripped = text.strip(" \t\r\n")  # not Unicode spaces: a value may be one
    if stripped.startswith("~"):
        if "=" in stripped:
            raise ConfigError(f"invalid override {text!r}: '~key' deletes a key and takes no value")
        return Override(text, "delete", parse_path(stripped[1:], text))
    match = re.match(r"^([^=+\-~][^=]*?)(\+=|-=|=)(.*)$", stripped, re.S)
    if not match:
        raise ConfigError(
            f"invalid override {text!r}",
            hint="expected key=value, key+=item, key-=item or ~key",
        )
    key, sign, raw = match.groups()
    op: Op = {"=": "set", "+=": "append", "-=": "remove"}[sign]  # type: ignore[assignment]
    return Override(text, op, parse_path(key.strip(), text), parse_value(raw))


def _step(node: Any, part: str | int, ov: Override, create: bool) -> Any:
    here = ov.key
    if isinstance(node, list):
        if not isinstance(part, int):
            raise ConfigError(f"override {ov.text!r}: '{part}' is not a list index", hint=f"{here} walks into a list; use an integer")
        if not -len(node) <= part < len(node):
            raise ConfigError(f"override {ov.text!r}: index {part} is out of range (the list has {len(node)} items)",
                              hint="append with key+=value")
        return node[part]
    if isinstance(node, dict):
        key = str(part)
        if key not in node or node[key] is None:
            if not create:
                raise ConfigError(f"override {ov.text!r}: no key '{key}' to change")
            node[key] = {}
        return node[key]
    raise ConfigError(f"override {ov.text!r}: cannot walk into {type(node).__name__} value at '{part}'")


def apply_override(tree: dict[str, Any], ov: Override) -> None:
    """Apply one override to a plain config tree in place."""
    node: Any = tree
    for part in ov.path[:-1]:
        node = _step(node, part, ov, create=ov.op in ("set", "append"))
    last = ov.path[-1]
    if ov.op in ("append", "remove"):
        if ov.op == "append" and isinstance(node, dict) and node.get(str(last)) is None:
            node[str(last)] = []
        target = _step(node, last, ov, create=False)
        if not isinstance(target, list):
            raise ConfigError(f"override {ov.text!r}: '{ov.key}' is not a list")
        if ov.op == "append":
            target.append(ov.value)
            return
        kept = [item for item in target if not _matches(item, ov.value)]
        if len(kept) == len(target):
            raise ConfigError(f"override {ov.text!r}: no item of '{ov.key}' matches {ov.value!r}")
        target[:] = kept
        return
    if ov.op == "delete":
        if isinstance(node, list) and isinstance(last, int) and -len(node) <= last < len(node):
            del node[last]
        elif isinstance(node, dict) and str(last) in node:
            del node[str(last)]
        else:
            raise ConfigError(f"override {ov.text!r}: no key '{ov.key}' to delete")
        return
    _assign(node, last, ov.value, ov)


def _assign(node: Any, part: str | int, value: Any, ov: Override) -> None:
    if isinstance(node, list):
        _step(node, part, ov, create=False)
        node[int(part)] = value
    elif isinstance(node, dict):
        node[str(part)] = value
    else:
        raise ConfigError(f"override {ov.text!r}: cannot set a key inside a {type(node).__name__}")


def _matches(item: Any, value: Any) -> bool:
    """Equal, or the same component: ``csv`` matches ``{name: csv, ...}`` and back."""
    if item == value:
        return True
    name = item.get("name") if isinstance(item, dict) else item
    wanted = value.get("name") if isinstance(value, dict) and set(value) == {"name"} else value
    return isinstance(name, str) and name == wanted


def apply_overrides(tree: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> list[Override]:
    """Parse and apply overrides in order; returns them parsed."""
    parsed = [parse_override(o) for o in overrides]
    for ov in parsed:
        apply_override(tree, ov)
    return parsed
