"""The codex plugin module of codex-tokenizers (named in its `codex` entry point).

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
def codex_register_tokenizers(register: RegisterFn) -> None:
    register(
        "char",
        "codex_tokenizers.char:CharTokenizer",
        config="codex_tokenizers.params:CharTokenizerParams",
        description="one token per character of an alphabet (default: string.printable), "
        "with <pad> <bos> <eos> <unk>",
    )
    register(
        "tokenizer-json",
        "codex_tokenizers.components:tokenizer_json",
        config="codex_tokenizers.params:TokenizerFileParams",
        description="a tokenizer.json (Hugging Face format) on the rust or pure-Python engine",
        aliases=("hf",),
    )
    trained = "trained on first use from files or a dataset, then cached"
    for kind, what in (("bpe", "byte-level BPE"), ("wordpiece", "WordPiece"), ("unigram", "Unigram")):
        register(
            kind,
            f"codex_tokenizers.components:{kind}",
            config="codex_tokenizers.params:TrainedTokenizerParams",
            description=f"{what} tokenizer, {trained}",
        )


@hookimpl
def codex_register_commands(cli: click.Group) -> None:
    from codex_tokenizers.cli import tokenizer

    cli.add_command(tokenizer)
