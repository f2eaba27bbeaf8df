"""``NormalizedString``: a piece of the input, its normalized form, and the alignment between.

Mirrors the library's ``NormalizedString``: every normalized character is aligned to a range
of the original input, and every transformation updates the alignments with the library's
rules (see :meth:`NormalizedString.transform`). Offsets here are *character* offsets into the
whole input (the Rust library keeps byte offsets; its Python binding converts them, which is
what this engine reproduces).

Alignments are kept lazily: a fresh string or an untouched slice stores none (character
``i`` is aligned to ``(offset + i, offset + i + 1)``); two ``int`` lists are built only when a
transformation moves characters around.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from . import _unicode
from ._split import BEHAVIORS, CharPattern, Literal, Match, Pattern, cut_at, merge, split_behavior, with_gaps
from ._types import UnsupportedComponentError

__all__ = ["BEHAVIORS", "CharPattern", "Literal", "Match", "NormalizedString", "Pattern", "split_behavior"]


class NormalizedString:
    """``original`` (a piece of the input starting at char ``offset``), ``normalized``, and
    for each normalized char its ``(start, end)`` range in the input (absolute offsets)."""

    __slots__ = ("_base", "_ends", "_source", "_starts", "normalized", "offset", "original")

    def __init__(self, text: str, offset: int = 0, *, source: str | None = None) -> None:
        self.original = text
        self.normalized = text
        self.offset = offset
        self._starts: list[int] | None = None
        self._ends: list[int] | None = None
        self._base = 0
        self._source = source if source is not None else (text if offset == 0 else None)

    @classmethod
    def _make(cls, original: str, normalized: str, offset: int, starts: list[int] | None,
              ends: list[int] | None, source: str | None, base: int = 0) -> NormalizedString:
        ns = cls.__new__(cls)
        ns.original, ns.normalized, ns.offset = original, normalized, offset
        ns._starts, ns._ends, ns._base, ns._source = starts, ends, base, source
        return ns

    def __len__(self) -> int:
        return len(self.normalized)

    def __repr__(self) -> str:
        return f"NormalizedString(original={self.original!r}, normalized={self.normalized!r}, offset={self.offset})"

    # --- alignments -----------------------------------------------------------------------

    # Alignment lists are never changed in place, so slices share their parent's lists (from
    # index ``_base``) until a transformation gives them their own.

    def _arrays(self) -> tuple[list[int], list[int]]:
        """The alignment lists, index ``i`` for normalized char ``i``."""
        n = len(self.normalized)
        if self._starts is None or self._ends is None:
            o = self.offset
            self._set_alignments(list(range(o, o + n)), list(range(o + 1, o + n + 1)))
        elif self._base or len(self._starts) != n:
            b = self._base
            self._set_alignments(self._starts[b : b + n], self._ends[b : b + n])
        return self._starts, self._ends  # type: ignore[return-value]

    def _set_alignments(self, starts: list[int], ends: list[int]) -> None:
        self._starts, self._ends, self._base = starts, ends, 0

    @property
    def alignments(self) -> list[tuple[int, int]]:
        """Each normalized char's ``(start, end)`` in the input."""
        starts, ends = self._arrays()
        return list(zip(starts, ends, strict=True))

    @property
    def original_span(self) -> tuple[int, int]:
        """Where ``original`` lies in the input (the library's ``offsets_original``)."""
        return self.offset, self.offset + len(self.original)

    def original_offsets(self, start: int, end: int) -> tuple[int, int]:
        """Normalized char range -> input char range (the library's ``convert_offsets``
        followed by the binding's byte-to-char conversion)."""
        if start == end:
            return self._empty_offsets(start)
        if start > end or end > len(self.normalized):  # the library keeps such offsets as given
            return start, end
        if self._starts is None or self._ends is None:
            return self.offset + start, self.offset + end
        b = self._base
        return self._starts[b + start], self._ends[b + end - 1]

    def _empty_offsets(self, pos: int) -> tuple[int, int]:
        # The library returns an empty normalized range as it is, *in bytes*, and reads it as
        # bytes of this piece's original; the binding's byte -> char conversion then gives the
        # char holding that byte, or leaves the offsets in bytes past the end of the input.
        # (Exact when this string was made from the whole input, as the pipeline does.)
        nbytes = len(self.normalized[:pos].encode("utf-8"))
        if self._source is not None:
            raw = self._source.encode("utf-8")
            at = len(self._source[: self.offset].encode("utf-8")) + nbytes
            if at >= len(raw):
                return at, at
            char = sum(1 for b in raw[: at + 1] if b & 0xC0 != 0x80) - 1
            return char, char
        raw = self.original.encode("utf-8")
        char = sum(1 for b in raw[: nbytes + 1] if b & 0xC0 != 0x80) - (1 if nbytes < len(raw) else 0)
        return self.offset + char, self.offset + char

    # --- slicing --------------------------------------------------------------------------

    def slice(self, start: int, end: int) -> NormalizedString:
        """The normalized chars ``start:end`` with their part of the original."""
        if start >= end:
            o = self._empty_offsets(start)[0]
            return self._make("", "", o, [], [], self._source)
        return self._slices([(start, end)])[0]

    def _slices(self, spans: Iterable[tuple[int, int]]) -> list[NormalizedString]:
        """:meth:`slice` for many non-empty spans (the hot path of every split)."""
        new = object.__new__
        cls = NormalizedString
        text, original, offset, source = self.normalized, self.original, self.offset, self._source
        starts, ends, b = self._starts, self._ends, self._base
        out = []
        if starts is None or ends is None:
            for s, e in spans:
                ns = new(cls)
                ns.normalized = text[s:e]
                ns.original = original[s:e]
                ns.offset = offset + s
                ns._starts = ns._ends = None
                ns._base = 0
                ns._source = source
                out.append(ns)
            return out
        for s, e in spans:
            ns = new(cls)
            os_ = starts[b + s]
            ns.normalized = text[s:e]
            ns.original = original[os_ - offset : ends[b + e - 1] - offset]
            ns.offset = os_
            ns._starts, ns._ends, ns._base, ns._source = starts, ends, b + s, source
            out.append(ns)
        return out

    # --- the transformation primitive -------------------------------------------------------

    def check_whole_transform(self) -> None:
        """The library applies whole-string transformations to the normalized range that the
        *original* range maps to, which skips leading chars aligned to nothing (text inserted
        before the first char, e.g. by a ``Replace`` matching empty at the start); it then
        panics or garbles the text. Refuse instead."""
        if (self._starts is not None and self._ends is not None and self.normalized
                and self._starts[self._base] == self._ends[self._base]):
            raise UnsupportedComponentError(
                "the tokenizers library fails on this input: a normalizer or pre-tokenizer rewrites "
                "a string that starts with inserted text aligned to nothing (e.g. after a Replace "
                "whose pattern matches empty at the start)",
                hint="change the Replace pattern so that it cannot match an empty string",
            )

    def transform(self, changes: Iterable[tuple[str, int]], initial_offset: int = 0) -> None:
        """Replace the whole normalized string by ``changes``: ``(char, 1)`` is inserted (aligned
        like the char before it, or to the piece's start), ``(char, 0)`` replaces the next
        char, ``(char, -n)`` replaces it and swallows the ``n`` after it; ``initial_offset``
        chars are dropped at the start."""
        self.check_whole_transform()
        self.transform_range(0, len(self.normalized), changes, initial_offset)

    def transform_range(self, start: int, end: int, changes: Iterable[tuple[str, int]],
                        initial_offset: int = 0) -> None:
        self._splice([(start, end, list(changes), initial_offset)])

    def _splice(self, edits: Sequence[tuple[int, int, Sequence[tuple[str, int]], int]]) -> None:
        """Apply non-overlapping, ordered ``(start, end, changes, initial_offset)`` edits."""
        if not edits:
            return
        starts, ends = self._arrays()
        text = self.normalized
        shift = self.offset
        parts: list[str] = []
        new_s: list[int] = []
        new_e: list[int] = []
        done = 0
        for start, end, changes, initial in edits:
            parts.append(text[done:start])
            new_s += starts[done:start]
            new_e += ends[done:start]
            pos = start + initial
            for c, change in changes:
                if change > 0:
                    if pos < 1:
                        new_s.append(shift)
                        new_e.append(shift)
                    else:
                        new_s.append(starts[pos - 1])
                        new_e.append(ends[pos - 1])
                else:
                    new_s.append(starts[pos])
                    new_e.append(ends[pos])
                    pos += 1 - change
                parts.append(c)
            done = end
        parts.append(text[done:])
        new_s += starts[done:]
        new_e += ends[done:]
        self.normalized = "".join(parts)
        self._set_alignments(new_s, new_e)

    def _keep(self, spans: list[tuple[int, int]]) -> None:
        """Keep only the normalized chars in ``spans`` (each keeps its own alignment)."""
        self.check_whole_transform()
        starts, ends = self._arrays()
        text = self.normalized
        self.normalized = "".join(text[a:b] for a, b in spans)
        self._set_alignments([x for a, b in spans for x in starts[a:b]], [x for a, b in spans for x in ends[a:b]])

    # --- transformations ------------------------------------------------------------------

    def nfd(self) -> None:
        self._normalize("NFD")

    def nfkd(self) -> None:
        self._normalize("NFKD")

    def nfc(self) -> None:
        self._normalize("NFC")

    def nfkc(self) -> None:
        self._normalize("NFKC")

    def _normalize(self, form: _unicode.Form) -> None:
        self.check_whole_transform()
        edits = _unicode.normalization_edits(self.normalized, form)
        self._splice([(a, b, changes, 0) for a, b, changes in edits])

    def lowercase(self) -> None:
        self.check_whole_transform()
        low = _unicode.lowercase_chars(self.normalized)
        if low is not None:
            self.normalized = low
        else:
            self.transform(_unicode.lowercase_changes(self.normalized))

    def map(self, fn: Callable[[str], str]) -> None:
        """Replace each char by ``fn(char)`` (one char; alignments do not change)."""
        self.check_whole_transform()
        self.normalized = "".join(map(fn, self.normalized))

    def filter(self, keep: Callable[[str], bool]) -> None:
        """Drop the chars for which ``keep`` is false."""
        self.check_whole_transform()
        text = self.normalized
        spans = [(i, i + 1) for i, c in enumerate(text) if keep(c)]
        if len(spans) != len(text):
            self._keep(spans)

    def remove_class(self, chars: _unicode.CharClass) -> None:
        """Drop every char of ``chars`` (a fast :meth:`filter`)."""
        self.check_whole_transform()
        text = self.normalized
        spans, prev = [], 0
        for m in chars.pick(text, runs=True).finditer(text):
            spans.append((prev, m.start()))
            prev = m.end()
        if prev:
            spans.append((prev, len(text)))
            self._keep([(a, b) for a, b in spans if a < b])

    def replace(self, pattern: Pattern | str, content: str) -> None:
        """Replace each match of ``pattern`` by ``content`` (each new char is aligned like the
        last char of its match)."""
        pat = Literal(pattern) if isinstance(pattern, str) else pattern
        if isinstance(pat, Literal) and len(pat.text) == 1 and len(content) == 1:
            # one char for one char: each new char keeps the alignment of the one it replaces
            self.normalized = self.normalized.replace(pat.text, content)
            return
        inserted = [(c, 1) for c in content]
        edits = [(s, e, inserted, e - s) for s, e, hit in pat.find_matches(self.normalized) if hit]
        self._splice(edits)

    def prepend(self, s: str) -> None:
        # (like the library, prepending "" re-inserts the first char, aligned to nothing)
        if self.normalized:
            changes = [(c, 0 if i == 0 else 1) for i, c in enumerate(s)]
            changes.append((self.normalized[0], 1))
            self._splice([(0, 1, changes, 0)])

    def append(self, s: str) -> None:
        if self.normalized and s:
            n = len(self.normalized)
            self._splice([(n - 1, n, [(self.normalized[-1], 0), *((c, 1) for c in s)], 0)])

    def strip(self) -> None:
        self._lrstrip(True, True)

    def lstrip(self) -> None:
        self._lrstrip(True, False)

    def rstrip(self) -> None:
        self._lrstrip(False, True)

    def _lrstrip(self, left: bool, right: bool) -> None:
        self.check_whole_transform()
        text = self.normalized
        n = len(text)
        ws = _unicode.WHITESPACE
        lead = 0
        while left and lead < n and text[lead] in ws:
            lead += 1
        trail = 0
        while right and trail < n and text[n - 1 - trail] in ws:
            trail += 1
        if lead or trail:
            self._keep([(lead, n - trail)] if lead < n - trail else [])

    def clear(self) -> None:
        self._keep([])

    # --- splitting ------------------------------------------------------------------------

    def split(self, pattern: Pattern | str, behavior: str, invert: bool = False) -> list[NormalizedString]:
        """Cut into pieces at the matches of ``pattern`` (empty pieces are dropped, as the
        pre-tokenizers do). ``behavior``: one of :data:`BEHAVIORS` (or its JSON spelling)."""
        pat = Literal(pattern) if isinstance(pattern, str) else pattern
        if behavior not in BEHAVIORS:
            behavior = split_behavior(behavior)
        if invert and behavior == "removed" and hasattr(pat, "spans"):  # keep the matches only
            return self._slices([(s, e) for s, e in pat.spans(self.normalized) if s != e])
        if behavior == "isolated" and hasattr(pat, "spans"):  # matches and the text between
            return self._slices(with_gaps(pat.spans(self.normalized), len(self.normalized)))
        if isinstance(pat, Literal) and pat.text and not invert and behavior.startswith("merged"):
            return self._slices(cut_at(self.normalized, pat.text, behavior == "merged_with_next"))
        matches = pat.find_matches(self.normalized)
        if invert:
            matches = [(s, e, not m) for s, e, m in matches]
        spans = merge(matches, behavior)
        if len(spans) == 1 and spans[0] == (0, len(self.normalized)) and self._starts is None:
            return [self] if self.normalized else []
        return self._slices([(s, e) for s, e in spans if s != e])
