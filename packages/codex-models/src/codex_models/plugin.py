"""The codex plugin module of codex-models (named in its `codex` entry point).

Registers components by lazy ``"module:attr"`` references: importing this module imports
nothing but ``codex_core.hookimpl`` (no torch, transformers or pydantic).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import click

    from codex_core.registry import RegisterFn


@hookimpl
def codex_register_models(register: RegisterFn) -> None:
    register(
        "gpt2",
        "codex_models.gpt2:build_gpt2",
        config="codex_models.params:GPT2Params",
        description="GPT-2 (Hugging Face transformers) built from a preset, randomly initialised",
    )
    register(
        "llama",
        "codex_models.llama:build_llama",
        config="codex_models.params:LlamaParams",
        description="Llama (Hugging Face transformers) built from a preset, randomly initialised",
    )
    register(
        "hf-local",
        "codex_models.hf_local:build_hf_local",
        config="codex_models.params:HFLocalParams",
        description="a causal LM in Hugging Face format from a local directory (local_files_only, never downloaded)",
    )


@hookimpl
def codex_register_metrics(register: RegisterFn) -> None:
    register(
        "exact-match",
        "codex_models.exact_match:ExactMatch",
        config="codex_models.params:ExactMatchParams",
        description="fraction of predictions equal to their reference",
        aliases=("em",),
    )


@hookimpl
def codex_register_commands(cli: click.Group) -> None:
    from codex_models.cli import models

    cli.add_command(models)
    from codex_models.generate_cli import generate

    cli.add_command(generate)
    from codex_models.export import export

    cli.add_command(export)
    from codex_models.train_cli import train

    cli.add_command(train)
