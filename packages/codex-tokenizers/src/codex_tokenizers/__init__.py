"""codex-tokenizers: tokenizers for codex, registered through the ``codex`` entry point.

Importing this package is cheap; the public names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "CharTokenizer": "codex_tokenizers.char",
    "CharTokenizerParams": "codex_tokenizers.params",
    "DEFAULT_ALPHABET": "codex_tokenizers.params",
}

__all__ = [
    "DEFAULT_ALPHABET",
    "CharTokenizer",
    "CharTokenizerParams",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codex_tokenizers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from codex_tokenizers.char import CharTokenizer
    from codex_tokenizers.params import DEFAULT_ALPHABET, CharTokenizerParams
