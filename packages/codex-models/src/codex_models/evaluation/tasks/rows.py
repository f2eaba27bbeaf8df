"""What the tasks over a jsonl data file share: reading it, and their build context.

A data file is JSON lines (``.jsonl``, or gzipped ``.jsonl.gz``), one JSON
object a row, blank lines skipped.

A row's id is its ``"id"`` field as a string when it has one, else its row number
(0-based, counting rows, not blank lines) as a string: the ids ``--predictions`` files
name. Problems are one-line :class:`~codex_core.errors.CodexError`\\ s naming
``file:line``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_core.errors import CodexError


def default_context(context: Any) -> Any:
    """``context``, or a build context over the installed plugins when it is None."""
    if context is not None:
        return context
    from codex_core.context import BuildContext
    from codex_core.plugins import get_plugin_manager

    return BuildContext(registry=get_plugin_manager().registry)


@dataclass(frozen=True)
class Row:
    """One row of a data file: its id, its fields and where it is (``file:line``)."""

    id: str
    data: dict[str, Any]
    where: str


def _lines(path: Path, what: str) -> list[str]:
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8").splitlines()
    except FileNotFoundError:
        raise CodexError(f"{what} file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise CodexError(f"{what} file {str(path)!r} is a directory", hint="give a .jsonl file") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise CodexError(f"cannot read {what} file {str(path)!r}: {getattr(exc, 'strerror', None) or exc}") from None
    except UnicodeDecodeError:
        raise CodexError(f"{what} file {str(path)!r} is not UTF-8 text") from None


def read_rows(path: str | Path, *, what: str, example: str) -> list[Row]:
    """The rows of ``path`` in file order. ``what`` names the data in messages
    (``"generation data"``); ``example`` is a row to show in hints. A line that is not
    a JSON object, an id that is not a string or integer, an id given twice, and a file
    without rows are errors."""
    path = Path(path)
    rows: list[Row] = []
    first: dict[str, str] = {}
    for number, line in enumerate(_lines(path, what), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CodexError(f"{where}: not JSON: {exc.msg}", hint=f"one JSON object a line, e.g. {example}") from None
        if not isinstance(data, dict):
            raise CodexError(f"{where}: a row is a JSON object, not {type(data).__name__}",
                             hint=f"e.g. {example}")
        raw_id = data.get("id")
        if raw_id is None:
            row_id = str(len(rows))
        elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
            row_id = str(raw_id)
        else:
            raise CodexError(f"{where}: 'id' must be a string or an integer, not {type(raw_id).__name__}")
        if row_id in first:
            raise CodexError(f"{where}: id {row_id!r} is also the id of {first[row_id]}",
                             hint="ids must be unique (a row without an id is numbered from 0)")
        first[row_id] = where
        rows.append(Row(row_id, data, where))
    if not rows:
        raise CodexError(f"{what} file {str(path)!r} has no rows", hint=f"one JSON object a line, e.g. {example}")
    return rows


def string_field(row: Row, key: str, *, allow_empty: bool = True) -> str:
    """``row.data[key]`` when it is a string (a one-line error naming the row otherwise)."""
    if key not in row.data:
        raise CodexError(f"{row.where}: the row has no {key!r}")
    value = row.data[key]
    if not isinstance(value, str):
        raise CodexError(f"{row.where}: {key!r} must be a string, not {type(value).__name__}")
    if not allow_empty and not value:
        raise CodexError(f"{row.where}: {key!r} is empty")
    return value


def string_list(row: Row, key: str, *, allow_empty_items: bool = True) -> list[str]:
    """``row.data[key]`` when it is a non-empty list of strings."""
    value = row.data.get(key)
    if not isinstance(value, list) or not value:
        raise CodexError(f"{row.where}: {key!r} must be a non-empty list of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise CodexError(f"{row.where}: {key}[{i}] must be a string, not {type(item).__name__}")
        if not allow_empty_items and not item:
            raise CodexError(f"{row.where}: {key}[{i}] is empty")
    return list(value)
