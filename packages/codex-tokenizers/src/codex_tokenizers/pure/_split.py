"""Patterns and split behaviors of ``NormalizedString.split`` (the library's ``Pattern``
implementations and ``SplitDelimiterBehavior``)."""

from __future__ import annotations

import operator
from typing import Protocol

from . import _unicode

Match = tuple[int, int, bool]
"""``(start, end, is_match)``; a pattern's matches cover the whole text, in order."""

BEHAVIORS = ("removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous")


class Pattern(Protocol):
    """Anything with ``find_matches``; a pattern may also offer ``spans(text)`` (its matches
    only, in order), which ``split`` uses as a faster path."""

    def find_matches(self, text: str) -> list[Match]: ...


class Literal:
    """A literal string pattern (the library's ``&str``/``char`` patterns; empty matches
    nothing)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def find_matches(self, text: str) -> list[Match]:
        lit = self.text
        if not text:
            return [(0, 0, False)]
        if not lit:
            return [(0, len(text), False)]
        out: list[Match] = []
        prev = 0
        k = len(lit)
        i = text.find(lit)
        while i >= 0:
            if prev != i:
                out.append((prev, i, False))
            out.append((i, i + k, True))
            prev = i + k
            i = text.find(lit, prev)
        if prev != len(text):
            out.append((prev, len(text), False))
        return out


class CharPattern:
    """Each character of a :class:`~._unicode.CharClass` is one match (the library's
    ``Fn(char) -> bool`` patterns)."""

    __slots__ = ("chars",)

    def __init__(self, chars: _unicode.CharClass) -> None:
        self.chars = chars

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [(i, i + 1) for i in map(_start, self.chars.pick(text).finditer(text))]

    def find_matches(self, text: str) -> list[Match]:
        if not text:
            return [(0, 0, False)]
        out: list[Match] = []
        prev = 0
        for m in self.chars.pick(text).finditer(text):
            i = m.start()
            if prev != i:
                out.append((prev, i, False))
            out.append((i, i + 1, True))
            prev = i + 1
        if prev != len(text):
            out.append((prev, len(text), False))
        return out


_start = operator.methodcaller("start")


def split_behavior(name: str) -> str:
    """``"MergedWithPrevious"`` or ``"merged_with_previous"`` -> ``"merged_with_previous"``."""
    key = name.replace("_", "").lower()
    for b in BEHAVIORS:
        if b.replace("_", "") == key:
            return b
    raise ValueError(f"unknown split behavior {name!r}")


def with_gaps(spans: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    out, prev = [], 0
    for s, e in spans:
        if s > prev:
            out.append((prev, s))
        if e > s:
            out.append((s, e))
        prev = e
    if prev < n:
        out.append((prev, n))
    return out


def cut_at(text: str, lit: str, before: bool) -> list[tuple[int, int]]:
    """Merged-with-next (cut before each occurrence of ``lit``) or merged-with-previous (cut
    after each) as non-empty spans."""
    cuts = []
    k = len(lit)
    i = text.find(lit)
    while i >= 0:
        cuts.append(i if before else i + k)
        i = text.find(lit, i + k)
    spans, prev = [], 0
    for c in cuts:
        if c > prev:
            spans.append((prev, c))
            prev = c
    if prev < len(text):
        spans.append((prev, len(text)))
    return spans


def merge(matches: list[Match], behavior: str) -> list[tuple[int, int]]:
    """The library's split behaviors: which spans of ``matches`` become pieces."""
    if behavior == "isolated":
        return [(s, e) for s, e, _ in matches]
    if behavior == "removed":
        return [(s, e) for s, e, m in matches if not m]
    out: list[list[int]] = []
    prev = False
    if behavior == "contiguous":
        for s, e, m in matches:
            if m == prev and out:
                out[-1][1] = e
            else:
                out.append([s, e])
            prev = m
    elif behavior == "merged_with_previous":
        for s, e, m in matches:
            if m and not prev and out:
                out[-1][1] = e
            else:
                out.append([s, e])
            prev = m
    elif behavior == "merged_with_next":
        for s, e, m in reversed(matches):
            if m and not prev and out:
                out[-1][0] = s
            else:
                out.append([s, e])
            prev = m
        out.reverse()
    else:
        raise ValueError(f"unknown split behavior {behavior!r}")
    return [(s, e) for s, e in out]
