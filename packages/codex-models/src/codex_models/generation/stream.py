"""Streaming decode: ids in as they are sampled, text out once it is final."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.protocols import Tokenizer

__all__ = ["StreamDecoder"]

log = logging.getLogger("codex")

_REPLACEMENT = "\ufffd"  # what decoding gives for an incomplete UTF-8 byte sequence


class StreamDecoder:
    """Incremental detokenizer: :meth:`push` ids, get back the text that became final.

    Text is final when it will not change whatever ids follow. The decoder decodes a small
    window of recent ids (from the last point where all text was final), so the cost per id
    stays bounded on long outputs, and emits the new suffix of that window's text. It holds
    text back while the window's text ends with U+FFFD (a byte-level BPE token can end in the
    middle of a multi-byte UTF-8 character, which the next token completes), and while the
    window's text no longer starts with what was already emitted from it (a decoder that
    revises earlier text when a token is added). :meth:`finish` emits what is left.

    ``context`` ids (the prompt) are decoded with the output, so that decoders whose text
    depends on the previous token (a leading space, WordPiece's ``##``) give the text of the
    continuation, but they are never emitted: everything pushed and finished joins to
    ``decode(context + ids)`` with ``decode(context)`` removed from its start.
    """

    def __init__(self, tokenizer: Tokenizer, context: Sequence[int] = (), *, skip_special_tokens: bool = True,
                 context_window: int = 4) -> None:
        self._tokenizer = tokenizer
        self._skip = skip_special_tokens
        self._ids = [int(i) for i in context]
        self._start = max(0, len(self._ids) - context_window)  # the window: ids[start:]
        self._mark = len(self._ids)  # all text of ids[start:mark] is final and was emitted (or is context)
        self._shown = self._decode(self._start)  # the text of the window emitted so far (or context)

    def _decode(self, start: int) -> str:
        return self._tokenizer.decode(self._ids[start:], skip_special_tokens=self._skip)

    def push(self, ids: int | Sequence[int]) -> str:
        """Add one or more ids; return the text that became final ("" when none did)."""
        self._ids.extend([int(ids)] if isinstance(ids, int) else [int(i) for i in ids])
        text = self._decode(self._start)
        if not text.startswith(self._shown):
            return ""  # the decoder revised emitted text; wait until it agrees again
        incomplete = text.endswith(_REPLACEMENT)
        final = text.rstrip(_REPLACEMENT) if incomplete else text
        delta = final[len(self._shown):]
        if delta:
            self._shown = final
        if not incomplete:  # everything is final: start the next window at the old mark
            self._start, self._mark = self._mark, len(self._ids)
            self._shown = self._decode(self._start)
        return delta

    def finish(self) -> str:
        """The text not emitted yet (an incomplete character at the end decodes to U+FFFD)."""
        text = self._decode(self._start)
        if not text.startswith(self._shown):
            common = next((i for i, (a, b) in enumerate(zip(text, self._shown, strict=False)) if a != b),
                          len(text))
            log.warning("the tokenizer's decoder changed text that was already streamed (%r became %r)",
                        self._shown[common:], text[common:])
        delta = text[len(self._shown):]
        self._shown = text
        return delta
