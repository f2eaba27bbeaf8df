"""Turning config mistakes into one clear line: key path, file, value, a hint."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from codex_core.errors import CodexError, ConfigError, did_you_mean

Origins = Mapping[str, str]


def origin_of(path: str, origins: Origins | None) -> str | None:
    """Where the value at ``path`` came from (the longest matching prefix)."""
    if not origins:
        return None
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:n]))
        if found:
            return found
    return origins.get("")  # the file itself, for keys no file set (a missing section)


def _where(path: str, origins: Origins | None, where: str | None) -> str:
    origin = origin_of(path, origins)
    bits = [b for b in (where, f"in {origin}" if origin else None) if b]
    return f" ({', '.join(bits)})" if bits else ""


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The BaseModel class inside an annotation, and whether it is a list of them."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        if args:
            inner, _ = _model_in(args[0])
            return inner, inner is not None
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            inner, is_list = _model_in(arg)
            if inner is not None:
                return inner, is_list
    return None, False


def check_unknown_keys(
    model: type[BaseModel],
    data: Any,
    *,
    where: str | None = None,
    origins: Origins | None = None,
    prefix: str = "",
    error: type[CodexError] = ConfigError,
) -> None:
    """Raise ``error`` (ConfigError) for the first key of ``data`` that ``model`` does not know,
    with a "did you mean" hint, the key path and the file it came from."""
    if not isinstance(data, Mapping):
        return
    known: dict[str, str] = {}
    for name, field in model.model_fields.items():
        known[name] = name
        if field.alias:
            known[field.alias] = name
    allows_extra = model.model_config.get("extra") == "allow"
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in known:
            if allows_extra:
                continue
            guess = did_you_mean(str(key), [k for k in known if not k.startswith("_")])
            hint = f"did you mean '{prefix}{guess}'?" if guess else (
                f"known keys{' of ' + prefix.rstrip('.') if prefix else ''}: {', '.join(sorted(known))}"
            )
            raise error(f"unknown key '{path}'{_where(path, origins, where)}", hint=hint)
        inner, is_list = _model_in(model.model_fields[known[key]].annotation)
        if inner is None:
            continue
        if is_list and isinstance(value, list):
            for i, item in enumerate(value):
                check_unknown_keys(inner, item, where=where, origins=origins, prefix=f"{path}.{i}.", error=error)
        elif isinstance(value, Mapping):
            check_unknown_keys(inner, value, where=where, origins=origins, prefix=f"{path}.", error=error)


def format_validation_error(
    exc: ValidationError, *, where: str | None = None, origins: Origins | None = None
) -> str:
    """One line per problem: ``key.path: expected ..., got <value> (<file>)``."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
        path = ".".join(loc)
        msg = err["msg"].replace("Input should be", "expected").replace("Value error, ", "")
        if err["type"] == "missing":
            lines.append(f"missing key '{path}'{_where(path, origins, where)}")
            continue
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key '{path}'{_where(path, origins, where)}")
            continue
        value = err.get("input")
        shown = "" if isinstance(value, (dict, BaseModel)) or (value is None and "none" in msg.lower()) else (
            f", got {value!r} ({type(value).__name__})"
        )
        lines.append(f"{path + ': ' if path else ''}{msg}{shown}{_where(path, origins, where)}")
    return "; ".join(lines)
