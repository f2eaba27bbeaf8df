"""codex-tokenizers: tokenizers for codex, registered through the ``codex`` entry point.

Importing this package is cheap; the public names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core.lazy import lazy_exports

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


__getattr__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:  # pragma: no cover
    from codex_tokenizers.char import CharTokenizer
    from codex_tokenizers.params import DEFAULT_ALPHABET, CharTokenizerParams
