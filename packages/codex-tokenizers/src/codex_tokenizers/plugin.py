"""The codex plugin module of codex-tokenizers (named in its `codex` entry point).

Registers components by lazy ``"module:attr"`` references: importing this module imports
nothing but ``codex_core.hookimpl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core import hookimpl

if TYPE_CHECKING:  # pragma: no cover
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
