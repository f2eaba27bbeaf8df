"""codex-tokenizers: tokenizers for codex, registered through the ``codex`` entry point.

Importing this package is cheap; the public names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core.lazy import lazy_exports

__version__ = "1!0.3.0"

_LAZY = {
    "load": "codex_tokenizers.engine",
    "resolve_backend": "codex_tokenizers.engine",
    "rust_available": "codex_tokenizers.engine",
    "TokenizerFileError": "codex_tokenizers.engine",
    "train": "codex_tokenizers.training",
    "CodexTokenizer": "codex_tokenizers.adapter",
    "TokenizerFileParams": "codex_tokenizers.params",
    "TrainedTokenizerParams": "codex_tokenizers.params",
    "CharTokenizer": "codex_tokenizers.char",
    "CharTokenizerParams": "codex_tokenizers.params",
    "DEFAULT_ALPHABET": "codex_tokenizers.params",
}

__all__ = [
    "DEFAULT_ALPHABET",
    "CharTokenizer",
    "CharTokenizerParams",
    "CodexTokenizer",
    "TokenizerFileError",
    "TokenizerFileParams",
    "TrainedTokenizerParams",
    "__version__",
    "load",
    "resolve_backend",
    "rust_available",
    "train",
]


__getattr__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:  # pragma: no cover
    from codex_tokenizers.adapter import CodexTokenizer
    from codex_tokenizers.char import CharTokenizer
    from codex_tokenizers.engine import TokenizerFileError, load, resolve_backend, rust_available
    from codex_tokenizers.params import (
        DEFAULT_ALPHABET,
        CharTokenizerParams,
        TokenizerFileParams,
        TrainedTokenizerParams,
    )
    from codex_tokenizers.training import train
