"""Placeholder, replaced by the real command in the next commits."""

from __future__ import annotations

import click

from codex_core.errors import CodexError


@click.command("new")
def new() -> None:
    """(not available yet)"""
    raise CodexError("`codex plugins new` is not available yet")
