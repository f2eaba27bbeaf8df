"""Unigram: the library's ``Unigram`` model (SentencePiece's best-path segmentation).

The Viterbi pass is the library's ``encode_optimized``: positions left to right, the
pieces starting there shortest first, a later candidate replaces the best path to its end
only when its score is strictly higher. A character with no one-character piece also gets
the unknown token (score: lowest piece score - 10). Consecutive unknown tokens on the best
path fuse into one, whose token string is the text it covers; with ``byte_fallback`` a text
not in the vocabulary becomes its ``<0xAB>`` byte tokens, each with the offsets of the whole
text.
"""

from __future__ import annotations

from typing import Any, cast

from codex_tokenizers.pure._types import Token
from codex_tokenizers.pure.models import CACHE_CAPACITY, ModelError, cached_tokenize, check_keys, option

UNK_PENALTY = 10.0
_PREFIX_ONLY = (-1, 0.0)
"""Table entry of a text that is only the start of pieces."""

_Triple = tuple[int, str, tuple[int, int]]


class Unigram:
    """The library's ``Unigram`` model."""

    def __init__(
        self,
        pieces: list[tuple[str, float]],
        unk_id: int | None = None,
        byte_fallback: bool = False,
        cache_capacity: int = CACHE_CAPACITY,
    ) -> None:
        if unk_id is not None and not 0 <= unk_id < len(pieces):
            raise ModelError("Unigram: the vocabulary is empty but at least <unk> is needed" if not pieces
                             else "Unigram: `unk_id` is larger than the vocabulary size")
        self.pieces = pieces
        self.unk_id = unk_id
        self.unk_token: str | None = pieces[unk_id][0] if unk_id is not None else None
        self.byte_fallback = byte_fallback
        self.vocab = {piece: id for id, (piece, _) in enumerate(pieces)}
        self.vocab_size = len(pieces)
        min_score = min((score for _, score in pieces), default=float("inf"))
        self._unk_score = min_score - UNK_PENALTY
        # Every piece -> (its id, its score); every proper start of a piece -> _PREFIX_ONLY.
        table: dict[str, tuple[int, float]] = {}
        for piece, id in self.vocab.items():
            for end in range(1, len(piece)):
                table.setdefault(piece[:end], _PREFIX_ONLY)
            if piece:
                table[piece] = (id, pieces[id][1])
        self._table = table
        self._cache: dict[str, tuple[_Triple, ...]] = {}
        self._cache_capacity = cache_capacity

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Unigram:
        check_keys(spec, {"vocab", "unk_id", "byte_fallback"})
        vocab = spec.get("vocab")
        if not isinstance(vocab, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], (int, float))
            and not isinstance(p[1], bool) for p in vocab
        ):
            raise ModelError("Unigram model needs a 'vocab' list of [piece, score] pairs")
        unk_id = option(spec, "unk_id", int, None)
        if unk_id is not None and unk_id < 0:
            raise ModelError(f"Unigram unk_id must be >= 0, not {unk_id}")
        return cls([(p, float(s)) for p, s in vocab], unk_id, option(spec, "byte_fallback", bool, False))

    def token_to_id(self, token: str) -> int | None:
        return self.vocab.get(token)

    def id_to_token(self, id: int) -> str | None:
        return self.pieces[id][0] if 0 <= id < len(self.pieces) else None

    def tokenize(self, sequence: str) -> list[Token]:
        return cached_tokenize(self, sequence)

    def _encode(self, text: str) -> tuple[_Triple, ...]:
        out: list[_Triple] = []
        vocab = self.vocab
        for start, end in self._best_path(text):
            piece = text[start:end]
            found = vocab.get(piece)
            if found is None and self.byte_fallback:
                byte_ids = [vocab.get(f"<0x{b:02X}>") for b in piece.encode("utf-8")]
                if None not in byte_ids:
                    out += [(id, f"<0x{b:02X}>", (start, end))
                            for id, b in zip(cast("list[int]", byte_ids), piece.encode("utf-8"), strict=True)]
                    continue
            if found is None:
                if self.unk_id is None:
                    raise ModelError("Unigram: encountered an unknown token but `unk_id` is missing")
                found = self.unk_id
            out.append((found, piece, (start, end)))
        return tuple(out)

    def _best_path(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the pieces of the best segmentation (unknowns fused)."""
        n = len(text)
        if not n:
            return []
        table, unk_id, unk_score = self._table, self.unk_id, self._unk_score
        score = [0.0] * (n + 1)
        came_from = [-1] * (n + 1)
        node = [0] * (n + 1)
        for start in range(n):
            base = score[start]
            single = False
            end = start + 1
            while end <= n:
                found = table.get(text[start:end])
                if found is None:
                    break
                id = found[0]
                if id >= 0:
                    candidate = found[1] + base
                    if came_from[end] < 0 or candidate > score[end]:
                        score[end] = candidate
                        came_from[end] = start
                        node[end] = id
                    if end == start + 1:
                        single = True
                end += 1
            if not single:
                end = start + 1
                candidate = unk_score + base
                if came_from[end] < 0 or candidate > score[end]:
                    if unk_id is None:
                        raise ModelError("Unigram: encountered an unknown token but `unk_id` is missing")
                    score[end] = candidate
                    came_from[end] = start
                    node[end] = unk_id
        spans: list[tuple[int, int]] = []
        end = n
        unk_end = -1  # end of the run of unknown tokens being fused
        while end > 0:
            start = came_from[end]
            if unk_id is not None and node[end] == unk_id:
                if unk_end < 0:
                    unk_end = end
            else:
                if unk_end >= 0:
                    spans.append((end, unk_end))
                    unk_end = -1
                spans.append((start, end))
            end = start
        if unk_end >= 0:
            spans.append((0, unk_end))
        spans.reverse()
        return spans
