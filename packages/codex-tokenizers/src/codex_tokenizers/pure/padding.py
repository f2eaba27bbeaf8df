"""Truncation and padding, with the library's semantics (overflowing windows with a
stride; padding of the overflowing encodings too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codex_tokenizers.pure._types import PureEncoding, unsupported

_DIRECTIONS = {"right": "Right", "left": "Left"}
_STRATEGIES = {"longest_first": "LongestFirst", "only_first": "OnlyFirst", "only_second": "OnlySecond"}


def _lower(value: str, table: dict[str, str], what: str) -> str:
    for low, title in table.items():
        if value in (low, title):
            return low
    raise unsupported(what, {"type": value})


@dataclass
class Truncation:
    max_length: int
    stride: int = 0
    strategy: str = "longest_first"
    direction: str = "right"

    def __post_init__(self) -> None:
        self.strategy = _lower(self.strategy, _STRATEGIES, "truncation strategy")
        self.direction = _lower(self.direction, _DIRECTIONS, "truncation direction")

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Truncation | None:
        if spec is None:
            return None
        return cls(spec["max_length"], spec.get("stride", 0), spec.get("strategy", "LongestFirst"),
                   spec.get("direction", "Right"))

    def to_spec(self) -> dict[str, Any]:
        return {"direction": _DIRECTIONS[self.direction], "max_length": self.max_length,
                "strategy": _STRATEGIES[self.strategy], "stride": self.stride}


@dataclass
class Padding:
    direction: str = "right"
    pad_id: int = 0
    pad_type_id: int = 0
    pad_token: str = "[PAD]"
    length: int | None = None
    pad_to_multiple_of: int | None = None

    def __post_init__(self) -> None:
        self.direction = _lower(self.direction, _DIRECTIONS, "padding direction")

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Padding | None:
        if spec is None:
            return None
        strategy = spec.get("strategy", "BatchLongest")
        length = strategy["Fixed"] if isinstance(strategy, dict) else None
        if length is None and strategy != "BatchLongest":
            raise unsupported("padding strategy", {"type": str(strategy)})
        return cls(spec.get("direction", "Right"), spec.get("pad_id", 0), spec.get("pad_type_id", 0),
                   spec.get("pad_token", "[PAD]"), length, spec.get("pad_to_multiple_of"))

    def to_spec(self) -> dict[str, Any]:
        strategy: Any = {"Fixed": self.length} if self.length is not None else "BatchLongest"
        return {"strategy": strategy, "direction": _DIRECTIONS[self.direction],
                "pad_to_multiple_of": self.pad_to_multiple_of, "pad_id": self.pad_id,
                "pad_type_id": self.pad_type_id, "pad_token": self.pad_token}


_FIELDS = ("ids", "tokens", "offsets", "type_ids", "special_tokens_mask", "attention_mask", "word_ids", "sequence_ids")


def _slice(enc: PureEncoding, start: int, stop: int) -> PureEncoding:
    return PureEncoding(**{f: getattr(enc, f)[start:stop] for f in _FIELDS})


def truncate_one(enc: PureEncoding, max_len: int, stride: int, direction: str) -> PureEncoding:
    """The library's ``Encoding::truncate``: the kept window, with the rest as
    overflowing windows of ``max_len`` tokens overlapping by ``stride``."""
    n = len(enc.ids)
    if max_len >= n:
        return enc
    if max_len == 0:
        empty = PureEncoding()
        empty.overflowing.append(enc)
        return empty
    if stride >= max_len:
        raise ValueError(f"truncation stride ({stride}) must be below max_length ({max_len})")
    step = max_len - stride
    ranges: list[tuple[int, int]] = []
    if direction == "right":
        for start in range(0, n, step):
            stop = min(start + max_len, n)
            ranges.append((start, stop))
            if stop == n:
                break
    else:
        for last in range(n - 1, -1, -step):
            stop = last + 1
            start = max(stop - max_len, 0)
            ranges.append((start, stop))
            if start == 0:
                break
    kept = _slice(enc, *ranges[0])
    kept.overflowing = [_slice(enc, *r) for r in ranges[1:]]
    return kept


def truncate(first: PureEncoding, second: PureEncoding | None, params: Truncation,
             n_added: int) -> tuple[PureEncoding, PureEncoding | None]:
    """Truncate before post-processing, leaving room for ``n_added`` special tokens."""
    max_len = params.max_length - n_added if n_added > 0 else params.max_length
    if second is not None:
        raise unsupported("truncation", {"type": "pair input"}, "truncating sentence pairs")
    if max_len < 0:
        raise ValueError(f"truncation max_length {params.max_length} leaves no room for {n_added} special tokens")
    return truncate_one(first, max_len, params.stride, params.direction), None


def _pad_one(enc: PureEncoding, target: int, p: Padding) -> None:
    for ov in enc.overflowing:
        _pad_one(ov, target, p)
    missing = target - len(enc.ids)
    if missing <= 0:
        return
    pads = {"ids": [p.pad_id] * missing, "tokens": [p.pad_token] * missing, "offsets": [(0, 0)] * missing,
            "type_ids": [p.pad_type_id] * missing, "special_tokens_mask": [1] * missing,
            "attention_mask": [0] * missing, "word_ids": [None] * missing, "sequence_ids": [None] * missing}
    for field, pad in pads.items():
        current = getattr(enc, field)
        setattr(enc, field, current + pad if p.direction == "right" else pad + current)


def pad_encodings(encodings: list[PureEncoding], params: Padding) -> None:
    """The library's ``pad_encodings``: to a fixed length or the batch's longest, rounded
    up to ``pad_to_multiple_of``, overflowing encodings included."""
    if not encodings:
        return
    target = params.length if params.length is not None else max(len(e.ids) for e in encodings)
    multiple = params.pad_to_multiple_of
    if multiple and target % multiple:
        target += multiple - target % multiple
    for enc in encodings:
        _pad_one(enc, target, params)
