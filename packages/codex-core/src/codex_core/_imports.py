"""Resolving lazy ``"module:attr"`` references."""

from __future__ import annotations

import importlib
from typing import Any


def is_lazy_ref(value: object) -> bool:
    """True for a ``"package.module:attr"`` string."""
    return isinstance(value, str) and value.count(":") == 1 and all(value.split(":"))


def import_object(ref: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the object it names.

    Raises ImportError or AttributeError from the import itself; callers add context.
    """
    module_name, _, attr_path = ref.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    return obj
