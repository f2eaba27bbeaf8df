"""The module named by the ``codex`` entry point. Keep it cheap: no heavy imports here."""

from __future__ import annotations

from codex_core import hookimpl


@hookimpl
def codex_register_metrics(register):
    register(
        "word-f1",
        "codex_word_f1.metric:WordF1",
        config="codex_word_f1.metric:WordF1Params",
        description="F1 of the words shared by prediction and reference",
        aliases=("f1",),
    )
