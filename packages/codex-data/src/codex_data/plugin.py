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
    register(
        "stdlib",
        "codex_data.stdlib:StdlibConnector",
        description="the .py files of this Python's standard library (Python version recorded)",
    )
    for scheme in ("https", "http"):
        register(
            scheme,
            "codex_data.http:HTTPConnector",
            config="codex_data.http_params:HTTPParams",
            description="a URL downloaded once into the cache (resumable, sha256-checked)",
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
        "jsonl",
        "codex_data.records:JsonlDataset",
        config="codex_data.record_params:JsonlParams",
        description="JSON Lines files, one document per object (text_field, id_field, bad_rows)",
    )
    register(
        "csv",
        "codex_data.records:CsvDataset",
        config="codex_data.record_params:CsvParams",
        description="CSV files with a header row, one document per row",
    )
    register(
        "sft-jsonl",
        "codex_data.sft:SFTDataset",
        config="codex_data.record_params:SFTParams",
        description="prompt/completion or chat-messages records for supervised fine-tuning, with loss masks",
    )
    register(
        "hf-disk",
        "codex_data.hf_disk:HFDiskDataset",
        config="codex_data.hf_disk:HFDiskParams",
        description="a Hugging Face dataset saved with save_to_disk (offline; needs codex-data[hf])",
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
