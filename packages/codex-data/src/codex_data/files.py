"""Finding local files (a path, a directory or a glob) and the ``file`` connector."""

from __future__ import annotations

import os
import re
from pathlib import Path

from codex_core.errors import CodexError
from codex_core.fsutil import sha256_file
from codex_core.protocols import Located

_MAGIC = re.compile(r"[*?[]")


def is_glob(source: str) -> bool:
    """True when ``source`` has glob wildcards (``*``, ``?``, ``[``)."""
    return _MAGIC.search(source) is not None


def _expand(source: str) -> Path:
    return Path(os.path.expanduser(source))


def source_root(source: str) -> Path:
    """The folder that the files of ``source`` are named relative to: a directory itself,
    a glob's fixed prefix (the parts before the first wildcard), a plain file's folder."""
    path = _expand(source)
    if is_glob(source):
        fixed: list[str] = []
        for part in path.parts:
            if is_glob(part):
                break
            fixed.append(part)
        root = Path(*fixed) if fixed else Path(".")
    elif path.is_dir():
        root = path
    else:
        root = path.parent
    return root.absolute()


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _walk(directory: Path) -> list[Path]:
    found = []
    for folder, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if not _hidden(d)]
        found += [Path(folder, n) for n in names if not _hidden(n)]
    return found


def find_files(source: str) -> list[Path]:
    """The files ``source`` names, as sorted absolute paths.

    ``source`` is a file, a directory (every file below it, hidden files and folders
    skipped) or a glob (``**`` matches any depth; wildcards do not match hidden names).
    Finding nothing is a ``CodexError`` naming the source.
    """
    path = _expand(source)
    if is_glob(source):
        import glob

        files = [Path(m) for m in glob.glob(str(path), recursive=True)]
        files = [f for f in files if f.is_file()]
    elif path.is_file():
        files = [path]
    elif path.is_dir():
        files = [f for f in _walk(path) if f.is_file()]
    else:
        raise CodexError(
            f"data source {source!r}: no such file or directory",
            hint="give an existing file, a directory or a glob such as 'data/**/*.txt'",
        )
    if not files:
        raise CodexError(
            f"data source {source!r} matches no files",
            hint="check the path; hidden files and folders (names starting with '.') are skipped",
        )
    return sorted(f.absolute() for f in files)


class FileConnector:
    """The ``file`` connector (implements ``codex_core.protocols.Connector``): local files
    named by a path, a directory or a glob, with the sha256 of their bytes."""

    def locate(self, source: str) -> list[Located]:
        """Sorted ``Located`` files for ``source`` (see :func:`find_files`)."""
        return [Located(path=p, sha256=sha256_file(p), source=source) for p in find_files(source)]
