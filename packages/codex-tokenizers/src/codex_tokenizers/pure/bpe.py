"""Byte-pair encoding: the library's ``BPE`` model, merge for merge.

A piece starts as one symbol per character (with ``continuing_subword_prefix`` on all but
the first and ``end_of_word_suffix`` on the last); a character missing from the vocabulary
becomes its ``<0xAB>`` byte tokens (``byte_fallback``), else the unknown token (consecutive
ones fused with ``fuse_unk``), else it is dropped. Then merges are applied as the library's
``Word::merge_all`` does: always the adjacent pair of lowest merge rank, the leftmost of
equal ranks, through a heap whose stale entries are checked the same way.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any, cast

from codex_tokenizers.pure._types import Token, unsupported
from codex_tokenizers.pure.models import (
    CACHE_CAPACITY,
    ModelError,
    cached_tokenize,
    char_offsets,
    check_keys,
    option,
    read_vocab,
    reverse_vocab,
    token_of,
)

_POS_BITS = 32
"""A heap entry is one int: ``rank << (id_bits + 32) | position << id_bits | new_id``."""

_Triple = tuple[int, str, tuple[int, int]]


class BPE:
    """The library's ``BPE`` model (``dropout`` None or 0 only: dropout is random)."""

    def __init__(
        self,
        vocab: dict[str, int],
        merges: list[tuple[str, str]],
        *,
        unk_token: str | None = None,
        continuing_subword_prefix: str | None = None,
        end_of_word_suffix: str | None = None,
        fuse_unk: bool = False,
        byte_fallback: bool = False,
        ignore_merges: bool = False,
        cache_capacity: int = CACHE_CAPACITY,
    ) -> None:
        self.vocab = vocab
        self.vocab_size = len(vocab)
        self.unk_token = unk_token
        self.continuing_subword_prefix = continuing_subword_prefix or ""
        self.end_of_word_suffix = end_of_word_suffix or ""
        self.fuse_unk = fuse_unk
        self.byte_fallback = byte_fallback
        self.ignore_merges = ignore_merges
        if byte_fallback and (self.continuing_subword_prefix or self.end_of_word_suffix):
            raise unsupported(
                "model", {"type": "BPE"}, "byte_fallback with continuing_subword_prefix or end_of_word_suffix: "
                "the library's offsets for the fallback bytes run past the piece")
        self._ids = reverse_vocab(vocab)
        if None in self._ids.values():
            dup = next(id for id, token in self._ids.items() if token is None)
            raise unsupported("model", {"type": "BPE"}, f"id {dup} has several tokens; the library picks one at random")
        self._values = cast("dict[int, str]", self._ids)  # no None left
        self._id_bits = max(max(vocab.values(), default=0).bit_length(), 1)
        self._ranks = self._merge_table(merges)
        self._cache: dict[str, tuple[_Triple, ...]] = {}
        self._cache_capacity = cache_capacity

    def _merge_table(self, merges: list[tuple[str, str]]) -> dict[int, int]:
        """``{a_id << id_bits | b_id: rank << (id_bits + 32) | new_id}`` (a repeated pair
        keeps its last rank, as in the library)."""
        vocab, prefix, bits = self.vocab, self.continuing_subword_prefix, self._id_bits
        prefix_bytes = len(prefix.encode("utf-8"))
        table: dict[int, int] = {}
        for rank, (a, b) in enumerate(merges):
            if b.startswith(prefix):
                tail = b[len(prefix):]
            else:  # the library cuts prefix_len bytes off b whatever they are
                try:
                    raw = b.encode("utf-8")
                    if len(raw) < prefix_bytes:
                        raise UnicodeDecodeError("utf-8", raw, 0, len(raw), "shorter than the prefix")
                    tail = raw[prefix_bytes:].decode("utf-8")
                except UnicodeDecodeError as err:  # where the library panics
                    raise ModelError(f"BPE merge {a!r} {b!r}: cannot cut the prefix's length off {b!r}") from err
            for token in (a, b, a + tail):
                if token not in vocab:
                    raise ModelError(f"BPE merge {a!r} {b!r}: token {token!r} out of vocabulary")
            table[vocab[a] << bits | vocab[b]] = rank << (bits + _POS_BITS) | vocab[a + tail]
        return table

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> BPE:
        check_keys(spec, {"dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk",
                          "byte_fallback", "ignore_merges", "vocab", "merges"})
        dropout = spec.get("dropout")
        if dropout is not None and dropout != 0:
            raise unsupported("model", spec, f"dropout={dropout!r}: dropout is random")
        return cls(
            read_vocab(spec),
            read_merges(spec.get("merges")),
            unk_token=option(spec, "unk_token", str, None),
            continuing_subword_prefix=option(spec, "continuing_subword_prefix", str, None),
            end_of_word_suffix=option(spec, "end_of_word_suffix", str, None),
            fuse_unk=option(spec, "fuse_unk", bool, False),
            byte_fallback=option(spec, "byte_fallback", bool, False),
            ignore_merges=option(spec, "ignore_merges", bool, False),
        )

    # -- the Model interface ----------------------------------------------------------------
    def token_to_id(self, token: str) -> int | None:
        return self.vocab.get(token)

    def id_to_token(self, id: int) -> str | None:
        return token_of(self._ids, id)

    def tokenize(self, sequence: str) -> list[Token]:
        if not sequence:
            return []
        if self.ignore_merges:
            found = self.vocab.get(sequence)
            if found is not None:
                return [Token(found, sequence, (0, len(sequence)))]
        return cached_tokenize(self, sequence)

    # -- encoding one piece -----------------------------------------------------------------
    def _encode(self, word: str) -> tuple[_Triple, ...]:
        prefix, suffix = self.continuing_subword_prefix, self.end_of_word_suffix
        if prefix or suffix:
            symbols = [word[0], *[prefix + c for c in word[1:]]]
            symbols[-1] += suffix
            found = list(map(self.vocab.get, symbols))
        else:
            found = list(map(self.vocab.get, word))
        if None in found:
            return self._encode_irregular(word)
        # One symbol per character: a symbol's offsets are its first and next positions.
        ids = cast("list[int]", found)
        nexts = self._merge(ids)
        values = self._values
        if nexts is None:
            return tuple([(id, values[id], (pos, pos + 1)) for pos, id in enumerate(ids)])
        out = []
        pos, n = 0, len(ids)
        while pos < n:
            id, end = ids[pos], nexts[pos]
            out.append((id, values[id], (pos, end)))
            pos = end
        return tuple(out)

    def _encode_irregular(self, word: str) -> tuple[_Triple, ...]:
        """Unknown characters: the library's ``merge_word`` step by step, its symbols
        measured in bytes, then the offsets turned into characters."""
        vocab, prefix, suffix = self.vocab, self.continuing_subword_prefix, self.end_of_word_suffix
        ids: list[int] = []
        lengths: list[int] = []
        unk: list[int] | None = None  # [id, byte length] of the pending unknown token
        last = len(word) - 1
        for i, char in enumerate(word):
            byte_len = len(char.encode("utf-8"))
            symbol = (prefix + char if i and prefix else char) + (suffix if i == last else "")
            found = vocab.get(symbol)
            if found is not None:
                if unk is not None:
                    ids.append(unk[0])
                    lengths.append(unk[1])
                    unk = None
                ids.append(found)
                lengths.append(byte_len)
                continue
            if self.byte_fallback:
                byte_ids = [vocab.get(f"<0x{b:02X}>") for b in symbol.encode("utf-8")]
                if None not in byte_ids:
                    ids += cast("list[int]", byte_ids)
                    lengths += [1] * len(byte_ids)
                    continue
            if self.unk_token is None:
                continue  # the library drops the character
            if unk is not None and self.fuse_unk:
                unk[1] += byte_len
                continue
            if unk is not None:
                ids.append(unk[0])
                lengths.append(unk[1])
            unk_id = vocab.get(self.unk_token)
            if unk_id is None:
                raise ModelError(f"BPE: unk token `{self.unk_token}` not found in the vocabulary")
            unk = [unk_id, byte_len]
        if unk is not None:
            ids.append(unk[0])
            lengths.append(unk[1])
        if not ids:
            return ()
        nexts = self._merge(ids) or list(range(1, len(ids) + 1))
        starts = [0]  # byte offset of each symbol before merging
        for length in lengths:
            starts.append(starts[-1] + length)
        kept: list[int] = []
        spans: list[tuple[int, int]] = []
        pos = 0
        while pos < len(ids):
            kept.append(ids[pos])
            spans.append((starts[pos], starts[nexts[pos]]))
            pos = nexts[pos]
        values = self._values
        return tuple(zip(kept, [values[id] for id in kept], char_offsets(word, spans), strict=True))

    def _merge(self, ids: list[int]) -> list[int] | None:
        """Apply the merges to ``ids`` in place (``Word::merge_all``): the symbol at a
        position left is ``ids[position]`` and the next one left is at ``nexts[position]``.
        Return ``nexts``, or None when nothing merges."""
        n = len(ids)
        ranks = self._ranks.get
        bits = self._id_bits
        heap = []
        for pos in range(n - 1):
            entry = ranks(ids[pos] << bits | ids[pos + 1])
            if entry is not None:
                heap.append(entry | pos << bits)
        if not heap:
            return None
        heapify(heap)
        id_mask = (1 << bits) - 1
        pos_mask = (1 << _POS_BITS) - 1
        nexts = list(range(1, n + 1))
        prevs = list(range(-1, n - 1))
        gone = -1
        while heap:
            top = heappop(heap)
            pos = top >> bits & pos_mask
            left = ids[pos]
            right_pos = nexts[pos]
            if left == gone or right_pos == n:
                continue
            new_id = top & id_mask
            # A stale entry is skipped unless the pair now there makes the same token.
            current = ranks(left << bits | ids[right_pos])
            if current is None or current & id_mask != new_id:
                continue
            ids[pos] = new_id
            ids[right_pos] = gone
            after = nexts[right_pos]
            nexts[pos] = after
            if after < n:
                prevs[after] = pos
            before = prevs[pos]
            if before >= 0:
                entry = ranks(ids[before] << bits | new_id)
                if entry is not None:
                    heappush(heap, entry | before << bits)
            if after < n:
                entry = ranks(new_id << bits | ids[after])
                if entry is not None:
                    heappush(heap, entry | pos << bits)
        return nexts


def read_merges(merges: Any) -> list[tuple[str, str]]:
    """Merges as ``"a b"`` strings (``#version`` lines skipped) or ``["a", "b"]`` pairs."""
    if not isinstance(merges, list):
        raise ModelError("BPE model needs a 'merges' list")
    if all(isinstance(m, str) for m in merges):
        pairs = []
        for line, merge in enumerate((m for m in merges if not m.startswith("#version")), start=1):
            parts = merge.split(" ")
            if len(parts) != 2:
                raise ModelError(f"BPE merges invalid at line {line}: {merge!r}")
            pairs.append((parts[0], parts[1]))
        return pairs
    if all(isinstance(m, list) and len(m) == 2 and all(isinstance(p, str) for p in m) for m in merges):
        return [(a, b) for a, b in merges]
    raise ModelError("BPE merges must all be 'a b' strings or all be [a, b] pairs")
