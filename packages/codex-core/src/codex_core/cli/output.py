"""Input and output helpers for `codex` sub-commands, public so that plugins behave the same
way: JSON (`--json`), plain tables, human sizes, and text read from standard input (`-`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

__all__ = ["echo_json", "echo_table", "human_size", "read_stdin_text"]


def echo_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON (what ``--json`` prints); other values as ``str``."""
    import json

    click.echo(json.dumps(obj, indent=2, default=str))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain left-aligned table (no colour, so it pipes cleanly)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def human_size(n: float) -> str:
    """A byte count for people: ``512 B``, ``1.5 KiB``, ``3.2 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def read_stdin_text(what: str = "standard input") -> str:
    """Standard input as UTF-8 text, decoded here (how Python decodes stdin depends on the
    locale); text that is not UTF-8 is one :class:`~codex_core.errors.CodexError` line naming
    the byte, e.g. ``the prompt on standard input is not UTF-8 text (byte 3: ...)``."""
    import sys

    from codex_core.errors import CodexError

    raw = sys.stdin.buffer.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodexError(f"{what} is not UTF-8 text (byte {exc.start}: {exc.reason})", hint="give UTF-8 text") from None
