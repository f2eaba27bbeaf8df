"""The ``jsonl`` and ``csv`` datasets: one document per record (a JSON line, a CSV row).

Ids are stable: ``<relative path>:<line>`` (1-based; for CSV the line a row starts on), or
the value of ``id_field``. Bad rows stop the pass with a ``CodexError`` naming file, line
and problem (``bad_rows="error"``) or are skipped and counted (``bad_rows="skip"``):
:attr:`RecordDataset.skipped_rows` and, per reason, :attr:`RecordDataset.skipped_reasons`.
Blank lines are not rows. A file that is not valid UTF-8 counts as one bad row.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from codex_core.errors import CodexError
from codex_core.protocols import Document
from codex_data.params import TextParams
from codex_data.record_params import CsvParams, JsonlParams, RecordParams
from codex_data.text import SourceFile, TextDataset, fingerprint_files, read_text

log = logging.getLogger("codex.data")

_LOGGED_SKIPS = 20


class BadRow(Exception):
    """A record that cannot become a document: a short ``reason`` (the key it is counted
    under, e.g. ``"invalid json"``) and a ``detail`` for the message."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def record_id(value: Any, column: str) -> str:
    """An ``id_field`` value as a document id (a non-empty string or an integer)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        what = "missing" if value is None else f"not a string or integer: {value!r}"
        raise BadRow("bad id", f"id field {column!r} is {what}")
    return str(value)


def handle_bad_row(dataset: Any, where: str, bad: BadRow) -> None:
    """The ``bad_rows`` policy: ``error`` raises naming ``where``; ``skip`` counts the row in
    ``dataset.skipped_rows`` and ``dataset.skipped_reasons`` (and logs the first ones)."""
    if dataset.params.bad_rows == "error":
        raise CodexError(
            f"{where}: {bad}", hint="fix the row, or set bad_rows: skip to skip and count bad rows"
        ) from None
    dataset.skipped_rows += 1
    dataset.skipped_reasons[bad.reason] = dataset.skipped_reasons.get(bad.reason, 0) + 1
    if dataset.skipped_rows <= _LOGGED_SKIPS:
        log.warning("%s: skipped (%s)", where, bad)


def locate(paths: list[str]) -> list[SourceFile]:
    """The files of ``paths`` with stable relative names (the ``text`` dataset's finding)."""
    return TextDataset(TextParams(paths=paths)).files


class RecordDataset:
    """The shared machinery of the record datasets (implements ``Dataset``): locating files,
    stable ids, unique ``id_field`` values, bad-row errors and skip counts, fingerprints.

    Subclasses set :attr:`name`, yield raw records from :meth:`_records` and turn one into
    a document in :meth:`_document` (raising :class:`BadRow` when they cannot)."""

    name: ClassVar[str] = "record"

    def __init__(self, params: RecordParams) -> None:
        self.params = params
        self._files: list[SourceFile] | None = None
        self.skipped_rows = 0
        self.skipped_reasons: dict[str, int] = {}

    @property
    def files(self) -> list[SourceFile]:
        """The files read, in document order (located and hashed on first use)."""
        if self._files is None:
            self._files = locate(self.params.paths)
        return self._files

    def __iter__(self) -> Iterator[Document]:
        self.skipped_rows = 0
        self.skipped_reasons = {}
        seen: set[str] = set()
        for f in self.files:
            for line, record in self._records(f):
                try:
                    if isinstance(record, BadRow):
                        raise record
                    doc = self._document(f, line, record)
                    if self.params.id_field is not None:
                        if doc.id in seen:
                            raise BadRow("duplicate id", f"{self.params.id_field}={doc.id!r} was seen before")
                        seen.add(doc.id)
                except BadRow as bad:
                    self._bad_row(f, line, bad)
                    continue
                yield doc
        if self.skipped_rows:
            log.warning(
                "%s dataset: skipped %d bad rows %s", self.name, self.skipped_rows, self.skipped_reasons
            )

    def fingerprint(self) -> str:
        """sha256 over the settings that decide the documents and every (path, sha256) pair."""
        return fingerprint_files(self.files, {"dataset": self.name, **self._settings()})

    def _settings(self) -> dict[str, object]:
        return self.params.model_dump(exclude={"paths"})

    def _records(self, f: SourceFile) -> Iterator[tuple[int, Any]]:
        """``(line, record)`` pairs of one file; a record may be a ``BadRow``."""
        raise NotImplementedError

    def _document(self, f: SourceFile, line: int, record: Any) -> Document:
        raise NotImplementedError

    def _doc_id(self, f: SourceFile, line: int, value: Any) -> str:
        if self.params.id_field is None:
            return f"{f.rel}:{line}"
        return record_id(value, self.params.id_field)

    def _bad_row(self, f: SourceFile, line: int, bad: BadRow) -> None:
        handle_bad_row(self, f"{self.name} dataset: {f.path}:{line}", bad)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(paths={self.params.paths!r})"


def text_field(record: dict[str, Any], field: str) -> str:
    """``record[field]`` when it is a string; otherwise a :class:`BadRow`."""
    if field not in record:
        raise BadRow("missing text field", f"no field {field!r} (fields: {sorted(record)})")
    value = record[field]
    if not isinstance(value, str):
        raise BadRow("text not a string", f"field {field!r} is {type(value).__name__}, not a string")
    return value


def json_records(f: SourceFile) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
    """``(line, object)`` for every non-blank line of a JSON Lines file; lines that are not
    UTF-8, not JSON, or not a JSON object come as a :class:`BadRow`."""
    with open(f.path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield number, BadRow("not utf-8", f"{exc.reason} at byte {exc.start}")
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, BadRow("invalid json", f"{exc.msg} at column {exc.colno}")
                continue
            if not isinstance(record, dict):
                yield number, BadRow("not an object", f"a JSON {type(record).__name__}, not an object")
                continue
            yield number, record


class JsonlDataset(RecordDataset):
    """Documents from JSON Lines files: one per object, its text from ``text_field``;
    ``meta`` has ``path``, ``line``, ``sha256`` and the other ``fields`` of the object."""

    name = "jsonl"
    params: JsonlParams

    def __init__(self, params: JsonlParams) -> None:
        super().__init__(params)

    def _records(self, f: SourceFile) -> Iterator[tuple[int, Any]]:
        return json_records(f)

    def _document(self, f: SourceFile, line: int, record: dict[str, Any]) -> Document:
        field = self.params.text_field
        text = text_field(record, field)
        doc_id = self._doc_id(f, line, record.get(self.params.id_field) if self.params.id_field else None)
        fields = {k: v for k, v in record.items() if k != field}
        return Document(
            id=doc_id, text=text, meta={"path": f.rel, "line": line, "sha256": f.sha256, "fields": fields}
        )


class CsvDataset(RecordDataset):
    """Documents from CSV files with a header row: one per row, its text from the
    ``text_field`` column; ``meta`` has ``path``, ``line``, ``sha256`` and the other
    ``fields`` of the row. A row with the wrong number of columns is a bad row; a file
    without the ``text_field`` (or ``id_field``) column is an error."""

    name = "csv"
    params: CsvParams

    def __init__(self, params: CsvParams) -> None:
        super().__init__(params)

    def _records(self, f: SourceFile) -> Iterator[tuple[int, Any]]:
        text, reason = read_text(f.path, "utf-8-sig")
        if text is None:
            yield 1, BadRow("not utf-8", f"the file is {reason}; all of it is skipped")
            return
        reader = csv.reader(text.splitlines(keepends=True), delimiter=self.params.delimiter, strict=True)
        header: list[str] | None = None
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, BadRow("invalid csv", str(exc))
                continue
            if not row:
                continue
            if header is None:
                header = self._header(f, row)
                continue
            if len(row) != len(header):
                yield start, BadRow("wrong column count", f"{len(row)} columns, the header has {len(header)}")
                continue
            yield start, dict(zip(header, row, strict=True))

    def _header(self, f: SourceFile, row: list[str]) -> list[str]:
        for field in (self.params.text_field, self.params.id_field):
            if field is not None and field not in row:
                raise CodexError(
                    f"csv dataset: {f.path} has no column {field!r} (header: {row})",
                    hint="the first row must be the header; check text_field, id_field and delimiter",
                )
        return row

    def _document(self, f: SourceFile, line: int, record: dict[str, str]) -> Document:
        field = self.params.text_field
        doc_id = self._doc_id(f, line, record.get(self.params.id_field) if self.params.id_field else None)
        fields = {k: v for k, v in record.items() if k != field}
        return Document(
            id=doc_id,
            text=record[field],
            meta={"path": f.rel, "line": line, "sha256": f.sha256, "fields": fields},
        )
