"""The ``text`` dataset: documents from local text files, one per file or per line."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codex_core.errors import CodexError
from codex_core.fsutil import sha256_file
from codex_core.protocols import Document
from codex_data.files import find_files, source_root
from codex_data.params import TextParams

log = logging.getLogger("codex.data")


@dataclass(frozen=True)
class SourceFile:
    """A file a dataset reads: its stable relative id, its location and its sha256."""

    rel: str
    path: Path
    sha256: str


def read_text(path: Path, encoding: str) -> tuple[str | None, str | None]:
    """``(text, None)``, or ``(None, reason)`` when the bytes do not decode."""
    try:
        return path.read_bytes().decode(encoding), None
    except UnicodeDecodeError as exc:
        return None, f"not valid {encoding}: {exc.reason} at byte {exc.start}"


def fingerprint_files(files: list[SourceFile], settings: dict[str, object]) -> str:
    """sha256 over the settings and the ``(relative path, file sha256)`` pairs, in order.
    Absolute paths are left out, so a copy of the same tree has the same fingerprint."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8"))
    for f in files:
        digest.update(f"\n{f.rel}\t{f.sha256}".encode())
    return digest.hexdigest()


class SkipCounter:
    """Counts (and logs) the files a dataset could not decode during one pass."""

    def __init__(self) -> None:
        self.skipped = 0
        self.skipped_files: list[str] = []

    def _reset_skips(self) -> None:
        self.skipped = 0
        self.skipped_files = []

    def _skip(self, what: str, rel: str, reason: str) -> None:
        self.skipped += 1
        self.skipped_files.append(rel)
        log.warning("%s: skipped %s (%s)", what, rel, reason)


class TextDataset(SkipCounter):
    """Documents from local text files (implements ``codex_core.protocols.Dataset``).

    Ids are stable across machines: the path relative to the folder each source was found
    from (a directory, a glob's fixed prefix, a plain file's folder), plus ``:<line>``
    (1-based) in line mode. Files that fail to decode are skipped, logged, and counted in
    :attr:`skipped` (names in :attr:`skipped_files`) for the last pass.
    """

    def __init__(self, params: TextParams) -> None:
        super().__init__()
        self.params = params
        self._files: list[SourceFile] | None = None

    @property
    def files(self) -> list[SourceFile]:
        """The files read, in document order (located and hashed on first use)."""
        if self._files is None:
            self._files = self._locate()
        return self._files

    def __iter__(self) -> Iterator[Document]:
        self._reset_skips()
        for f in self.files:
            text, reason = read_text(f.path, self.params.encoding)
            if text is None:
                self._skip("text dataset", f.rel, reason or "")
                continue
            if self.params.mode == "file":
                yield Document(id=f.rel, text=text, meta={"path": f.rel, "sha256": f.sha256})
                continue
            for number, line in enumerate(text.split("\n"), start=1):
                line = line.removesuffix("\r")
                if line.strip():
                    meta = {"path": f.rel, "line": number, "sha256": f.sha256}
                    yield Document(id=f"{f.rel}:{number}", text=line, meta=meta)

    def fingerprint(self) -> str:
        """sha256 over the settings that decide the documents and every (id, sha256) pair."""
        settings = self.params.model_dump(exclude={"paths"})
        return fingerprint_files(self.files, {"dataset": "text", **settings})

    def _wanted(self, path: Path) -> bool:
        extensions = self.params.extensions
        return extensions is None or path.name.endswith(tuple(extensions))

    def _locate(self) -> list[SourceFile]:
        by_rel: dict[str, Path] = {}
        seen: set[Path] = set()
        out: list[SourceFile] = []
        for source in self.params.paths:
            root = source_root(source)
            for path in find_files(source):
                if path in seen or not self._wanted(path):
                    continue
                rel = path.relative_to(root).as_posix()
                if rel in by_rel:
                    raise CodexError(
                        f"text dataset: two files have the document id {rel!r}: {by_rel[rel]} and {path}",
                        hint="name them through one directory or glob so that their relative paths differ",
                    )
                seen.add(path)
                by_rel[rel] = path
                out.append(SourceFile(rel=rel, path=path, sha256=sha256_file(path)))
        if not out:
            raise CodexError(
                f"text dataset: no file in {self.params.paths} ends with {self.params.extensions}",
                hint="check the 'extensions' param (with the dot, e.g. '.txt')",
            )
        return out

    def __repr__(self) -> str:
        return f"TextDataset(paths={self.params.paths!r}, mode={self.params.mode!r})"
