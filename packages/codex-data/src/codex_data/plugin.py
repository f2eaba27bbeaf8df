"""The codex plugin module of codex-data (named in its `codex` entry point).

Registers components by lazy ``"module:attr"`` references: importing this module imports
nothing but ``codex_core.hookimpl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import click

    from codex_core.registry import RegisterFn


@hookimpl
def codex_register_connectors(register: RegisterFn) -> None:
    register(
        "file",
        "codex_data.files:FileConnector",
        description="local files: a path, a directory or a glob ('**' for any depth)",
    )


@hookimpl
def codex_register_datasets(register: RegisterFn) -> None:
    register(
        "text",
        "codex_data.text:TextDataset",
        config="codex_data.params:TextParams",
        description="local text files, one document per file or per line",
    )
    register(
        "stdlib-code",
        "codex_data.stdlib:StdlibCodeDataset",
        description="the .py files of this Python's standard library (tests excluded)",
    )


@hookimpl
def codex_register_commands(cli: click.Group) -> None:
    from codex_data.cli import data

    cli.add_command(data)
