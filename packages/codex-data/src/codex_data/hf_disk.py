"""The ``hf-disk`` dataset: a Hugging Face ``datasets`` dataset saved with ``save_to_disk``.

The saved ``Dataset`` or ``DatasetDict`` is opened with ``datasets.load_from_disk`` (memory
mapped, offline: the hub is never contacted). ``datasets`` is an optional dependency
(``pip install 'codex-data[hf]'``); it is imported when the dataset is built, so importing
this module needs only pydantic.

Ids are ``<split>:<row index>`` (0-based), or the value of ``id_field``. A row whose text is
missing or not a string stops the pass with a ``CodexError`` naming the row index
(``bad_rows="error"``) or is skipped and counted (``bad_rows="skip"``): :attr:`skipped_rows`
and, per reason, :attr:`skipped_reasons`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from codex_core.config import ConfigPath
from codex_core.errors import CodexError
from codex_core.fsutil import sha256_file
from codex_core.protocols import Document
from codex_data.records import BadRow, handle_bad_row, record_id

log = logging.getLogger("codex.data")

_BATCH = 1024
_SAVED_SUFFIXES = (".arrow", ".json")
_DEFAULT_SPLIT = "data"
"""The id prefix of a saved single ``Dataset`` that records no split of its own."""


class HFDiskParams(BaseModel):
    """Params of the ``hf-disk`` dataset."""

    model_config = ConfigDict(extra="forbid")

    path: ConfigPath = Field(
        description="the folder a Hugging Face Dataset or DatasetDict was saved to with save_to_disk "
        "(relative to the config file)"
    )
    split: str | None = Field(
        None,
        description="the split to read; required when the folder holds a DatasetDict, "
        "left unset for a single saved Dataset",
    )
    text_field: str = Field("text", description="the column holding each document's text (a string)")
    id_field: str | None = Field(
        None,
        description="take each document's id from this column (a unique string or integer) "
        "instead of '<split>:<row index>'",
    )
    bad_rows: Literal["error", "skip"] = Field(
        "error",
        description="'error': stop at the first row whose text is missing or not a string, naming "
        "its index; 'skip': skip such rows and count them (skipped_rows, skipped_reasons)",
    )


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise CodexError(
            "the hf-disk dataset needs the 'datasets' package", hint="pip install 'codex-data[hf]'"
        ) from None
    return datasets


class HFDiskDataset:
    """Documents from a saved Hugging Face dataset, one per row (implements
    ``codex_core.protocols.Dataset``).

    ``meta`` has ``split``, ``row`` (the 0-based index) and the other ``fields`` of the row.
    The fingerprint covers the saved ``.arrow`` and ``.json`` files under ``path`` (by
    relative path and sha256, not by absolute location) and the params other than ``path``.
    """

    def __init__(self, params: HFDiskParams) -> None:
        self.params = params
        self._datasets = _import_datasets()
        self.root = Path(params.path).expanduser()
        self.skipped_rows = 0
        self.skipped_reasons: dict[str, int] = {}
        self._table: Any = None
        self._split: str | None = None

    # -- loading ---------------------------------------------------------------------
    def _load(self) -> tuple[Any, str]:
        if self._table is not None and self._split is not None:
            return self._table, self._split
        where = f"hf-disk dataset: {self.root}"
        if not self.root.is_dir():
            raise CodexError(f"{where}: no such folder", hint="path must be a folder written by save_to_disk")
        try:
            loaded = self._datasets.load_from_disk(str(self.root))
        except (FileNotFoundError, ValueError, OSError) as exc:
            raise CodexError(
                f"{where}: not a saved Hugging Face dataset ({exc})",
                hint="path must be a folder written by Dataset.save_to_disk or DatasetDict.save_to_disk",
            ) from None
        split = self.params.split
        if isinstance(loaded, self._datasets.DatasetDict):
            names = sorted(loaded)
            if split is None:
                raise CodexError(
                    f"{where} holds a DatasetDict with splits {names}; choose one",
                    hint=f"set split to one of: {', '.join(names)}",
                )
            if split not in loaded:
                raise CodexError(
                    f"{where} has no split {split!r} (splits: {names})",
                    hint=f"set split to one of: {', '.join(names)}",
                )
            table = loaded[split]
        else:
            if split is not None:
                raise CodexError(
                    f"{where} holds a single Dataset, not a DatasetDict; it has no split {split!r}",
                    hint="leave split unset for a saved Dataset",
                )
            table = loaded
            split = str(table.split) if table.split is not None else _DEFAULT_SPLIT
        for field in (self.params.text_field, self.params.id_field):
            if field is not None and field not in table.column_names:
                raise CodexError(
                    f"{where}: split {split!r} has no column {field!r} (columns: {table.column_names})",
                    hint="check text_field and id_field",
                )
        self._table, self._split = table, split
        return table, split

    @property
    def split(self) -> str:
        """The split read: the ``split`` param, or a saved Dataset's own (``data`` if none)."""
        return self._load()[1]

    def __len__(self) -> int:
        return len(self._load()[0])

    # -- documents -------------------------------------------------------------------
    def __iter__(self) -> Iterator[Document]:
        table, split = self._load()
        self.skipped_rows = 0
        self.skipped_reasons = {}
        seen: set[str] = set()
        index = 0
        for batch in table.iter(batch_size=_BATCH):
            columns = list(batch)
            for offset in range(len(batch[columns[0]]) if columns else 0):
                row = {c: batch[c][offset] for c in columns}
                try:
                    doc = self._document(split, index + offset, row)
                    if self.params.id_field is not None:
                        if doc.id in seen:
                            raise BadRow(
                                "duplicate id", f"{self.params.id_field}={doc.id!r} was seen before"
                            )
                        seen.add(doc.id)
                except BadRow as bad:
                    self._bad_row(split, index + offset, bad)
                    continue
                yield doc
            index += len(batch[columns[0]]) if columns else 0
        if self.skipped_rows:
            log.warning("hf-disk dataset: skipped %d bad rows %s", self.skipped_rows, self.skipped_reasons)

    def _document(self, split: str, index: int, row: dict[str, Any]) -> Document:
        field = self.params.text_field
        text = row.get(field)
        if text is None:
            raise BadRow("missing text", f"column {field!r} is empty")
        if not isinstance(text, str):
            raise BadRow("text not a string", f"column {field!r} is {type(text).__name__}, not a string")
        if self.params.id_field is None:
            doc_id = f"{split}:{index}"
        else:
            doc_id = record_id(row.get(self.params.id_field), self.params.id_field)
        fields = {k: v for k, v in row.items() if k != field}
        return Document(id=doc_id, text=text, meta={"split": split, "row": index, "fields": fields})

    def _bad_row(self, split: str, index: int, bad: BadRow) -> None:
        handle_bad_row(self, f"hf-disk dataset: {self.root} split {split!r} row {index}", bad)

    # -- fingerprint -----------------------------------------------------------------
    def saved_files(self) -> list[tuple[str, Path]]:
        """``(relative path, path)`` of the saved ``.arrow`` and ``.json`` files, sorted."""
        if not self.root.is_dir():
            raise CodexError(
                f"hf-disk dataset: {self.root}: no such folder",
                hint="path must be a folder written by save_to_disk",
            )
        found = [
            (p.relative_to(self.root).as_posix(), p)
            for p in self.root.rglob("*")
            if p.is_file() and p.suffix in _SAVED_SUFFIXES
        ]
        return sorted(found)

    def fingerprint(self) -> str:
        """sha256 over the params (``path`` left out, so a copy has the same fingerprint) and
        every saved file's ``(relative path, sha256)``, sorted by relative path."""
        settings = {"dataset": "hf-disk", **self.params.model_dump(exclude={"path"})}
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8"))
        for rel, path in self.saved_files():
            digest.update(f"\n{rel}\t{sha256_file(path)}".encode())
        return digest.hexdigest()

    def __repr__(self) -> str:
        return f"HFDiskDataset(path={self.params.path!r}, split={self.params.split!r})"
