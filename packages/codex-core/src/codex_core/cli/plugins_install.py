"""Placeholder, replaced by the real command in the next commits."""

from __future__ import annotations

import click

from codex_core.errors import CodexError


@click.command("install")
def install() -> None:
    """(not available yet)"""
    raise CodexError("`codex plugins install` is not available yet")


@click.command("uninstall")
def uninstall() -> None:
    """(not available yet)"""
    raise CodexError("`codex plugins uninstall` is not available yet")
