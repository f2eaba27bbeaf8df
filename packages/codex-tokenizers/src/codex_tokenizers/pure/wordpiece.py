"""WordPiece: the library's ``WordPiece`` model (greedy longest-match-first).

From the start of the piece, the longest prefix in the vocabulary is a token; from then on
the longest continuation, looked up with ``continuing_subword_prefix`` in front. A piece
longer than ``max_input_chars_per_word`` characters, or with a part that matches nothing,
is one unknown token.
"""

from __future__ import annotations

from typing import Any

from codex_tokenizers.pure._types import Token
from codex_tokenizers.pure.models import (
    CACHE_CAPACITY,
    ModelError,
    cached_tokenize,
    check_keys,
    option,
    read_vocab,
    reverse_vocab,
    token_of,
)

_Triple = tuple[int, str, tuple[int, int]]


class WordPiece:
    """The library's ``WordPiece`` model."""

    def __init__(
        self,
        vocab: dict[str, int],
        unk_token: str = "[UNK]",
        continuing_subword_prefix: str = "##",
        max_input_chars_per_word: int = 100,
        cache_capacity: int = CACHE_CAPACITY,
    ) -> None:
        self.vocab = vocab
        self.vocab_size = len(vocab)
        self.unk_token: str | None = unk_token
        self.continuing_subword_prefix = continuing_subword_prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self._ids = reverse_vocab(vocab)
        prefix = continuing_subword_prefix
        # No match can be longer than the longest token: start the search there.
        self._longest_first = max(map(len, vocab), default=0)
        self._longest_next = max((len(t) - len(prefix) for t in vocab if t.startswith(prefix)), default=0)
        self._cache: dict[str, tuple[_Triple, ...]] = {}
        self._cache_capacity = cache_capacity

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> WordPiece:
        check_keys(spec, {"vocab", "unk_token", "continuing_subword_prefix", "max_input_chars_per_word"})
        max_chars = option(spec, "max_input_chars_per_word", int, 100)
        if max_chars < 0:
            raise ModelError(f"WordPiece max_input_chars_per_word must be >= 0, not {max_chars}")
        return cls(
            read_vocab(spec),
            unk_token=option(spec, "unk_token", str, "[UNK]"),
            continuing_subword_prefix=option(spec, "continuing_subword_prefix", str, "##"),
            max_input_chars_per_word=max_chars,
        )

    def token_to_id(self, token: str) -> int | None:
        return self.vocab.get(token)

    def id_to_token(self, id: int) -> str | None:
        return token_of(self._ids, id)

    def tokenize(self, sequence: str) -> list[Token]:
        return cached_tokenize(self, sequence)

    def _encode(self, word: str) -> tuple[_Triple, ...]:
        n = len(word)
        if n > self.max_input_chars_per_word:
            return self._unknown(n)
        vocab, prefix = self.vocab, self.continuing_subword_prefix
        out: list[_Triple] = []
        start = 0
        while start < n:
            end = min(n, start + (self._longest_next if start else self._longest_first))
            while start < end:
                piece = prefix + word[start:end] if start else word[:end]
                found = vocab.get(piece)
                if found is not None:
                    out.append((found, piece, (start, end)))
                    break
                end -= 1
            else:
                return self._unknown(n)
            start = end
        return tuple(out)

    def _unknown(self, n: int) -> tuple[_Triple, ...]:
        unk_token = self.unk_token or ""
        unk = self.vocab.get(unk_token)
        if unk is None:
            raise ModelError("WordPiece error: Missing [UNK] token from the vocabulary")
        return ((unk, unk_token, (0, n)),)
