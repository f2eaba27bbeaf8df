"""Lazy re-exports for package ``__init__`` modules, so importing a plugin stays cheap.

    # my_plugin/__init__.py
    from codex_core.lazy import lazy_exports

    __getattr__ = lazy_exports(__name__, {"Tokenizer": "my_plugin.tok"})

``my_plugin.Tokenizer`` imports ``my_plugin.tok`` on first access and caches the value
in the package, so later accesses cost nothing.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[attr]`` (a module) on first use."""
    table = dict(names)

    def __getattr__(attr: str) -> Any:
        module = table.get(attr)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        value = getattr(importlib.import_module(module), attr)
        setattr(sys.modules[package], attr, value)
        return value

    return __getattr__
