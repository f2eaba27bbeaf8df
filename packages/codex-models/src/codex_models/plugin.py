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
        "codex_models.models.gpt2:build_gpt2",
        config="codex_models.models.gpt2:GPT2Params",
        description="GPT-2 (Hugging Face transformers) built from a preset, randomly initialised",
    )
    register(
        "llama",
        "codex_models.models.llama:build_llama",
        config="codex_models.models.llama:LlamaParams",
        description="Llama (Hugging Face transformers) built from a preset, randomly initialised",
    )
    register(
        "hf-local",
        "codex_models.models.hf_local:build_hf_local",
        config="codex_models.models.hf_local:HFLocalParams",
        description="a causal LM in Hugging Face format from a local directory (local_files_only, never downloaded)",
    )


@hookimpl
def codex_register_metrics(register: RegisterFn) -> None:
    register(
        "exact-match",
        "codex_models.evaluation.exact_match:ExactMatch",
        config="codex_models.evaluation.exact_match:ExactMatchParams",
        description="fraction of predictions equal to their reference",
        aliases=("em",),
    )


@hookimpl
def codex_register_commands(cli: click.Group) -> None:
    from codex_models.cli.models_cmd import models

    cli.add_command(models)
    from codex_models.cli.generate_cmd import generate

    cli.add_command(generate)
    from codex_models.cli.export_cmd import export

    cli.add_command(export)
    from codex_models.cli.train_cmd import train

    cli.add_command(train)
