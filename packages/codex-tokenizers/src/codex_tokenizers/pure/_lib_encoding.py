"""The library's ``Encoding`` as its post-processors see it: lists per token, the
sequence ranges, and overflowing parts that merge as every combination of both sides."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from codex_tokenizers.pure._types import PureEncoding


def _filled(values: list[Any], n: int, default: Any) -> list[Any]:
    return list(values) if values or not n else [default] * n


_LISTS = ("ids", "type_ids", "tokens", "words", "offsets", "special_tokens_mask", "attention_mask")


@dataclass
class _Encoding:
    """The library's ``Encoding``, with its ``sequence_ranges`` (what ``sequence_ids`` is
    computed from); only used inside this module."""

    ids: list[int]
    type_ids: list[int]
    tokens: list[str]
    words: list[int | None]
    offsets: list[tuple[int, int]]
    special_tokens_mask: list[int]
    attention_mask: list[int]
    overflowing: list[_Encoding] = field(default_factory=list)
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_pure(cls, e: PureEncoding) -> _Encoding:
        """One input sequence; its ``sequence_ids`` are not read (the library's model-stage
        encodings have no sequence ranges). Lists left empty get their defaults."""
        n = len(e.ids)
        return cls(
            list(e.ids), _filled(e.type_ids, n, 0), list(e.tokens), _filled(e.word_ids, n, None),
            list(e.offsets), _filled(e.special_tokens_mask, n, 0),
            _filled(e.attention_mask, n, 1), [cls.from_pure(o) for o in e.overflowing],
        )

    def to_pure(self) -> PureEncoding:
        return PureEncoding(
            ids=self.ids, tokens=self.tokens, offsets=self.offsets, type_ids=self.type_ids,
            special_tokens_mask=self.special_tokens_mask, attention_mask=self.attention_mask, word_ids=self.words,
            sequence_ids=self.sequence_ids(), overflowing=[o.to_pure() for o in self.overflowing],
        )

    def set_sequence_id(self, seq: int) -> None:
        self.ranges[seq] = (0, len(self))

    def sequence_ids(self) -> list[int | None]:
        """``Encoding::get_sequence_ids``: no ranges means one sequence covering everything."""
        out: list[int | None] = [None] * len(self)
        for seq in range(len(self.ranges) or 1):
            start, stop = self.ranges.get(seq, (0, len(self)))
            out[start:stop] = [seq] * (stop - start)
        return out

    def copy(self) -> _Encoding:
        """A copy whose lists and ranges can be changed; the overflowing parts are shared
        (nothing changes them in place)."""
        return replace(self, **{name: list(getattr(self, name)) for name in _LISTS}, ranges=dict(self.ranges))

    def deep_copy(self) -> _Encoding:
        clone = self.copy()
        clone.overflowing = [o.deep_copy() for o in self.overflowing]
        return clone

    def merge_with(self, pair: _Encoding) -> None:
        """``Encoding::merge_with`` (``growing_offsets=False``): the overflowing parts become
        every combination of ours and the pair's. ``pair`` is only read."""
        combos = [(mine, other) for mine in self.overflowing for other in (pair, *pair.overflowing)]
        combos += [(self, other) for other in pair.overflowing]
        overflowing = []
        for left, right in combos:
            combined = left.copy()
            combined.merge_with(right)
            overflowing.append(combined)
        n = len(self)
        self.ranges.update({seq: (n + start, n + stop) for seq, (start, stop) in pair.ranges.items()})
        for name in _LISTS:
            getattr(self, name).extend(getattr(pair, name))
        self.overflowing = overflowing


def _merge(encodings: list[_Encoding]) -> _Encoding:
    merged = _Encoding([], [], [], [], [], [], [])
    for e in encodings:
        merged.merge_with(e)
    return merged
