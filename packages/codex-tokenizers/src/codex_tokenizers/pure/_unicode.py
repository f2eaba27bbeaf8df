"""Character predicates, lowercasing and Unicode normalization exactly as the library does them.

The library's answers come from :mod:`._unicode_data` (mined from it); Python's own tables fill
in the rest. Every class has an ASCII fast path (``str.isascii`` is nearly free).

Normalization forms are computed as the library's ``unicode-normalization-alignments`` does:
a stream of ``(char, change)`` pairs (``0`` replaces one input char, ``1`` is inserted,
``-n`` also swallows ``n`` following chars), because the stream -- not only the text -- decides
the alignments.
"""

from __future__ import annotations

import unicodedata as ud
from functools import lru_cache
from typing import Literal

import regex

from . import _unicode_data as data

Changes = list[tuple[str, int]]
Form = Literal["NFC", "NFD", "NFKC", "NFKD"]


class CharClass:
    """A set of characters, tested in bulk with a compiled regex (ASCII text separately);
    compiled on first use."""

    __slots__ = ("_compiled", "body")

    def __init__(self, body: str) -> None:
        self.body = body
        self._compiled: tuple[regex.Pattern[str], ...] | None = None

    def _compile(self) -> tuple[regex.Pattern[str], ...]:
        full = regex.compile(f"[{self.body}]", regex.V1)
        chars = "".join(chr(c) for c in range(128) if full.match(chr(c)))
        ascii_body = "".join(c if c.isalnum() else f"\\x{ord(c):02x}" for c in chars) or "^\\x00-\\x7f"
        self._compiled = (regex.compile(f"[{ascii_body}]", regex.V1), regex.compile(f"[{ascii_body}]+", regex.V1),
                          full, regex.compile(f"[{self.body}]+", regex.V1))
        return self._compiled

    @property
    def full(self) -> regex.Pattern[str]:
        return (self._compiled or self._compile())[2]

    def pick(self, text: str, runs: bool = False) -> regex.Pattern[str]:
        """The compiled class (or ``class+`` with ``runs``) to scan ``text`` with."""
        compiled = self._compiled or self._compile()
        return compiled[(0 if text.isascii() else 2) + runs]

    def __contains__(self, char: str) -> bool:
        return self.full.match(char) is not None


WHITESPACE = CharClass(data.WHITESPACE)
"""Rust ``char::is_whitespace`` (and ``\\s`` of Oniguruma and the regex crate)."""
WHITESPACE_CHARS = frozenset(WHITESPACE.full.findall("".join(map(chr, range(0x3001)))))
NUMERIC = CharClass(data.RUST_NUMERIC)
"""Rust ``char::is_numeric``."""
BERT_PUNCTUATION = CharClass(data.BERT_PUNCT)
BERT_REMOVED = CharClass(data.BERT_REMOVED + "\\x00\\ufffd")
"""Characters BertNormalizer's ``clean_text`` drops (controls, NUL, U+FFFD)."""
CHINESE = CharClass(data.CHINESE)
STRIPPED_MARK = CharClass(data.NONSPACING_MARK)
"""Characters the StripAccents normalizer removes (combining marks)."""
BERT_STRIPPED = CharClass(data.BERT_MN)
"""Characters BertNormalizer's ``strip_accents`` removes after NFD (nonspacing marks)."""
RUST_WORD = CharClass(f"[\\w--[{data.ONIG_UNASSIGNED}]]")
"""``\\w`` of the Rust regex crate (Whitespace pre-tokenizer, added tokens)."""

_LOWER = {k: v for k, v in data.LOWER_OVERRIDES.items()}
_LOWER_MIN = chr(min(_LOWER)) if _LOWER else "\U0010ffff"


def lowercase_chars(text: str) -> str | None:
    """Rust's per-char ``to_lowercase`` of ``text`` when it keeps the length (else None)."""
    if text.isascii():
        return text.lower()
    if "\u0130" in text:  # İ lowercases to two chars
        return None
    t = text.replace("\u03a3", "\u03c3")  # Rust has no final-sigma rule
    if max(t) >= _LOWER_MIN:
        t = t.translate(_LOWER)
    return t.lower()


def lowercase_changes(text: str) -> Changes:
    out: Changes = []
    for c in text:
        low = _LOWER.get(ord(c)) or ("\u03c3" if c == "\u03a3" else c.lower())
        out.append((low[0], 0))
        out.extend((x, 1) for x in low[1:])
    return out


# --- normalization forms --------------------------------------------------------------------

_DECOMP = {False: {chr(k): v for k, v in data.NFD_OVERRIDES.items()},
           True: {chr(k): v for k, v in data.NFKD_OVERRIDES.items()}}
_CCC = {chr(k): v for k, v in data.CCC_OVERRIDES.items()}
_SPECIAL = frozenset(_DECOMP[True]) | frozenset(_DECOMP[False]) | frozenset(_CCC)
_NON_ASCII = regex.compile(r"[^\x00-\x7f]+")


@lru_cache(maxsize=1 << 16)
def _decompose_char(char: str, compat: bool) -> tuple[tuple[str, int], ...]:
    """The library's full decomposition of one char, with each part's combining class."""
    d = _DECOMP[compat].get(char)
    if d is None:
        d = ud.normalize("NFKD" if compat else "NFD", char)
    return tuple((c, _ccc(c)) for c in d)


def _ccc(char: str) -> int:
    k = _CCC.get(char)
    return ud.combining(char) if k is None else k


@lru_cache(maxsize=1 << 16)
def _compose(a: str, b: str) -> str | None:
    """The primary composite of ``a`` + ``b`` in the library's tables, if any."""
    s = ud.normalize("NFC", a + b)
    if len(s) != 1 or s in _DECOMP[False]:
        return None
    if 0xAC00 <= ord(s) <= 0xD7A3 or ud.decomposition(s) == f"{ord(a):04X} {ord(b):04X}":
        return s
    return None


def _decompose(text: str, compat: bool) -> list[tuple[str, int, int]]:
    """(char, change, ccc) stream: decomposed, then reordered by combining class per block."""
    out: list[tuple[str, int, int]] = []
    block_start = 0
    needs_sort = False
    for ch in text:
        first = 0
        for c, k in _decompose_char(ch, compat):
            if k == 0:
                if needs_sort:
                    out[block_start:] = sorted(out[block_start:], key=lambda t: t[2])
                    needs_sort = False
                block_start = len(out)
            elif not needs_sort and len(out) > block_start and out[-1][2] > k:
                needs_sort = True
            out.append((c, first, k))
            first = 1
    if needs_sort:
        out[block_start:] = sorted(out[block_start:], key=lambda t: t[2])
    return out


def _recompose(stream: list[tuple[str, int, int]]) -> Changes:
    out: Changes = []
    buffer: Changes = []
    composee: tuple[str, int] | None = None
    last: int | None = None
    for ch, change, k in stream:
        if composee is None:
            if k != 0:
                out.append((ch, change))
            else:
                composee = (ch, change)
            continue
        if last is not None and last >= k:  # blocked from the composee
            if k == 0:
                out.append(composee)
                out.extend(buffer)
                buffer.clear()
                composee, last = (ch, change), None
            else:
                buffer.append((ch, change))
                last = k
            continue
        r = _compose(composee[0], ch)
        if r is not None:
            composee = (r, composee[1] + change - 1)
        elif last is None and k == 0:
            out.append(composee)
            composee = (ch, change)
        else:
            buffer.append((ch, change))
            last = k
    if composee is not None:
        out.append(composee)
    out.extend(buffer)
    return out


def normalization_edits(text: str, form: Form) -> list[tuple[int, int, Changes]]:
    """The library's ``form`` (NFD/NFKD/NFC/NFKC) of ``text`` as ``(start, end, changes)``
    edits of independent segments that change (empty when ``text`` stays as it is)."""
    if text.isascii():
        return []
    compat = form in ("NFKD", "NFKC")
    compose = form in ("NFC", "NFKC")
    edits = []
    for m in _NON_ASCII.finditer(text):
        # an ASCII char before the run may compose with it; ASCII never composes onto a run
        start = m.start() - 1 if m.start() > 0 else 0
        seg = text[start : m.end()]
        if ud.is_normalized(form, seg) and _SPECIAL.isdisjoint(seg):
            continue
        stream = _decompose(seg, compat)
        changes = _recompose(stream) if compose else [(c, d) for c, d, _ in stream]
        if len(changes) == len(seg) and all(d == 0 and c == s for (c, d), s in zip(changes, seg, strict=True)):
            continue
        edits.append((start, m.end(), changes))
    return edits
