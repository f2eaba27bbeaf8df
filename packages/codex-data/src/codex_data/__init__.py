"""codex-data: connectors and datasets for codex, registered through the ``codex`` entry point.

Importing this package is cheap; the public names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "FileConnector": "codex_data.files",
    "find_files": "codex_data.files",
    "sha256_file": "codex_data.files",
    "source_root": "codex_data.files",
    "TextDataset": "codex_data.text",
    "TextParams": "codex_data.params",
    "StdlibCodeDataset": "codex_data.stdlib",
}

__all__ = [
    "FileConnector",
    "StdlibCodeDataset",
    "TextDataset",
    "TextParams",
    "__version__",
    "find_files",
    "sha256_file",
    "source_root",
]


__getattr__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:  # pragma: no cover
    from codex_data.files import FileConnector, find_files, sha256_file, source_root
    from codex_data.params import TextParams
    from codex_data.stdlib import StdlibCodeDataset
    from codex_data.text import TextDataset
