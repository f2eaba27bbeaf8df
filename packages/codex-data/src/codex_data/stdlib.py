"""The ``stdlib-code`` dataset: the ``.py`` files of this Python's standard library."""

from __future__ import annotations

import os
import platform
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from codex_core.errors import CodexError
from codex_core.fsutil import sha256_file
from codex_core.protocols import Document, Located
from codex_data.text import SkipCounter, SourceFile, fingerprint_files, read_text

EXCLUDED_DIRS = frozenset({"test", "tests", "site-packages", "dist-packages", "__pycache__"})
"""Folders skipped at any depth (test suites and installed third-party packages)."""
EXCLUDED_PATHS = frozenset({"idlelib/idle_test"})
"""Folders skipped by their path relative to the standard library."""


def stdlib_root() -> Path:
    """The standard library folder of the running Python (``sysconfig`` ``stdlib``)."""
    return Path(sysconfig.get_paths()["stdlib"])


class StdlibCodeDataset(SkipCounter):
    """One document per ``.py`` file of the standard library (implements
    ``codex_core.protocols.Dataset``), test suites and ``site-packages`` excluded.

    The id (and ``meta["path"]``) is the path relative to the standard library folder,
    e.g. ``json/__init__.py``; files are in sorted id order. Files that are not valid
    UTF-8 are skipped, logged and counted in :attr:`skipped`. :attr:`python_version`
    records which standard library this is; it is part of the fingerprint.
    """

    def __init__(self) -> None:
        super().__init__()
        self.root = stdlib_root()
        self.python_version = platform.python_version()
        self._files: list[SourceFile] | None = None

    @property
    def files(self) -> list[SourceFile]:
        """The source files, sorted by id (found and hashed on first use)."""
        if self._files is None:
            self._files = [
                SourceFile(rel=rel, path=self.root / rel, sha256=sha256_file(self.root / rel))
                for rel in self._find()
            ]
        return self._files

    def __iter__(self) -> Iterator[Document]:
        self._reset_skips()
        for f in self.files:
            text, reason = read_text(f.path, "utf-8")
            if text is None:
                self._skip("stdlib-code", f.rel, reason or "")
                continue
            yield Document(id=f.rel, text=text, meta={"path": f.rel, "sha256": f.sha256})

    def fingerprint(self) -> str:
        settings = {
            "dataset": "stdlib-code",
            "python_version": self.python_version,
            "implementation": platform.python_implementation(),
        }
        return fingerprint_files(self.files, settings)

    def _find(self) -> list[str]:
        found = []
        for folder, dirs, names in os.walk(self.root):
            rel_folder = Path(folder).relative_to(self.root)
            dirs[:] = [
                d
                for d in dirs
                if d not in EXCLUDED_DIRS
                and not d.startswith(".")
                and (rel_folder / d).as_posix() not in EXCLUDED_PATHS
            ]
            found += [(rel_folder / n).as_posix() for n in names if n.endswith(".py")]
        return sorted(found)

    def __repr__(self) -> str:
        return f"StdlibCodeDataset(python_version={self.python_version!r}, root={str(self.root)!r})"


class StdlibConnector:
    """The ``stdlib`` connector: ``locate("stdlib")`` (or ``""``) gives every ``.py`` file of
    the running Python's standard library (the files of :class:`StdlibCodeDataset`) with its
    sha256; :attr:`python_version` says which standard library that is."""

    def __init__(self) -> None:
        self._dataset = StdlibCodeDataset()
        self.python_version = self._dataset.python_version

    def locate(self, source: str = "stdlib") -> list[Located]:
        if source not in ("", "stdlib", "stdlib:"):
            raise CodexError(f"the stdlib connector locates 'stdlib', not {source!r}",
                             hint="use the file or http connector for other sources")
        return [Located(path=f.path, sha256=f.sha256, source=f"stdlib:{f.rel}") for f in self._dataset.files]
