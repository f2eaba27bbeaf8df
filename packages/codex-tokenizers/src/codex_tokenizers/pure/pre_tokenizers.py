"""Pre-tokenizers from a ``tokenizer.json`` ``pre_tokenizer`` spec: each cuts a list of
:class:`~codex_tokenizers.pure.normalized.NormalizedString` pieces into smaller pieces.

Supported: ByteLevel, Whitespace, WhitespaceSplit, BertPreTokenizer, Metaspace, Punctuation,
Digits, Split and Sequence of these. Anything else, or an option this engine does not know,
raises :class:`~codex_tokenizers.pure._types.UnsupportedComponentError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import regex

from . import _unicode, _unicode_data
from ._onig import OnigRegex, splits_of
from ._split import CharPattern, Literal, Match, Pattern, split_behavior
from ._types import unsupported
from .byte_level import BYTE_TO_CHAR
from .normalized import NormalizedString
from .normalizers import replace_pattern

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


class PreTokenizer(Protocol):
    def __call__(self, pieces: list[NormalizedString]) -> list[NormalizedString]: ...


class RegexPattern:
    """A pattern without empty matches, compiled for ASCII and for any text."""

    __slots__ = ("_ascii", "_full")

    def __init__(self, ascii_source: str, full_source: str) -> None:
        self._ascii = regex.compile(ascii_source, regex.V1)
        self._full = regex.compile(full_source, regex.V1)

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in (self._ascii if text.isascii() else self._full).finditer(text)]

    def find_matches(self, text: str) -> list[Match]:
        return splits_of(self.spans(text), len(text))


_NEW = _unicode_data.ONIG_UNASSIGNED
# Whitespace: the regex crate's \w+|[^\w\s]+ (its \w is the regex module's, minus new code points)
_WORDS = RegexPattern(r"\w+|[^\w\s]+", rf"[\w--[{_NEW}]]+|[^[\w--[{_NEW}]]\s]+")
_NON_WHITESPACE = RegexPattern(r"\S+", r"\S+")
_ASCII_PUNCT = r"!-/:-@\[-`{-~"
_BERT_WORDS = RegexPattern(f"[{_ASCII_PUNCT}]|[^\\s{_ASCII_PUNCT}]+",
                           f"[{_unicode_data.BERT_PUNCT}]|[^\\s{_unicode_data.BERT_PUNCT}]+")


class SplitPre:
    """Split every piece on ``pattern`` with a behavior (the library's generic step)."""

    __slots__ = ("behavior", "invert", "pattern")

    def __init__(self, pattern: Pattern, behavior: str, invert: bool = False) -> None:
        self.pattern, self.behavior, self.invert = pattern, behavior, invert

    def __call__(self, pieces: list[NormalizedString]) -> list[NormalizedString]:
        out: list[NormalizedString] = []
        for piece in pieces:
            out += piece.split(self.pattern, self.behavior, self.invert)
        return out


class Sequence:
    __slots__ = ("steps",)

    def __init__(self, steps: list[PreTokenizer]) -> None:
        self.steps = steps

    def __call__(self, pieces: list[NormalizedString]) -> list[NormalizedString]:
        for step in self.steps:
            pieces = step(pieces)
        return pieces


class ByteLevel:
    """GPT-2's pre-tokenizer: an optional leading space, the GPT-2 regex, then every piece
    spelled in byte-level characters (each byte aligned to the char it came from)."""

    __slots__ = ("add_prefix_space", "regex")

    def __init__(self, add_prefix_space: bool = True, use_regex: bool = True) -> None:
        self.add_prefix_space = add_prefix_space
        self.regex = OnigRegex(GPT2_PATTERN) if use_regex else None

    def __call__(self, pieces: list[NormalizedString]) -> list[NormalizedString]:
        out: list[NormalizedString] = []
        for piece in pieces:
            if self.add_prefix_space and not piece.normalized.startswith(" "):
                piece.prepend(" ")
            if self.regex is None:
                if piece.normalized:
                    out.append(piece)
            else:
                out += piece.split(self.regex, "isolated")
        for piece in out:
            to_byte_level(piece)
        return out


def to_byte_level(ns: NormalizedString) -> None:
    """Spell ``ns`` in byte-level characters, in place."""
    ns.check_whole_transform()
    text = ns.normalized
    if text.isascii():
        ns.normalized = text.translate(BYTE_TO_CHAR)
        return
    starts, ends = ns._arrays()
    new_s: list[int] = []
    new_e: list[int] = []
    for c, a, b in zip(text, starts, ends, strict=True):
        n = 1 if c < "\x80" else 2 if c < "\u0800" else 3 if c < "\U00010000" else 4
        new_s += [a] * n
        new_e += [b] * n
    ns.normalized = text.encode("utf-8").decode("latin-1").translate(BYTE_TO_CHAR)
    ns._set_alignments(new_s, new_e)


class Metaspace:
    """SentencePiece's pre-tokenizer: spaces become ``replacement``, which is prepended
    (``always``; ``first``: only to a piece starting the sequence, offset 0, as the library
    decides it; ``never``) and then split on, kept at the start of each piece."""

    __slots__ = ("prepend_scheme", "replacement", "split")

    def __init__(self, replacement: str = "\u2581", prepend_scheme: str = "always", split: bool = True) -> None:
        self.replacement, self.prepend_scheme, self.split = replacement, prepend_scheme, split

    def __call__(self, pieces: list[NormalizedString]) -> list[NormalizedString]:
        rep = self.replacement
        space = Literal(" ")
        out: list[NormalizedString] = []
        for piece in pieces:
            if " " in piece.normalized:
                piece.replace(space, rep)
            if not piece.normalized.startswith(rep) and (
                self.prepend_scheme == "always" or (self.prepend_scheme == "first" and piece.offset == 0)
            ):
                piece.prepend(rep)
            if self.split:
                out += piece.split(Literal(rep), "merged_with_next")
            elif piece.normalized:
                out.append(piece)
        return out


# --- building from tokenizer.json ---------------------------------------------------------------


def _options(spec: dict[str, Any], allowed: dict[str, Any]) -> dict[str, Any]:
    unknown = set(spec) - set(allowed) - {"type"}
    if unknown:
        raise unsupported("pre_tokenizer", spec, f"unknown option(s) {sorted(unknown)}")
    return {k: spec.get(k, default) for k, default in allowed.items()}


def _bool(spec: dict[str, Any], opts: dict[str, Any], name: str) -> bool:
    if not isinstance(opts[name], bool):
        raise unsupported("pre_tokenizer", spec, f"{name}={opts[name]!r}")
    return bool(opts[name])


def _behavior(spec: dict[str, Any], value: Any) -> str:
    try:
        return split_behavior(value)
    except (ValueError, AttributeError):
        raise unsupported("pre_tokenizer", spec, f"behavior={value!r}") from None


def _byte_level(spec: dict[str, Any]) -> PreTokenizer:
    opts = _options(spec, {"add_prefix_space": True, "trim_offsets": True, "use_regex": True})
    _bool(spec, opts, "trim_offsets")  # used by the post-processor, not here
    return ByteLevel(_bool(spec, opts, "add_prefix_space"), _bool(spec, opts, "use_regex"))


def _metaspace(spec: dict[str, Any]) -> PreTokenizer:
    opts = _options(spec, {"replacement": None, "prepend_scheme": "always", "split": True,
                           "add_prefix_space": None, "str_rep": None})
    rep = opts["replacement"]
    if not isinstance(rep, str) or len(rep) != 1:
        raise unsupported("pre_tokenizer", spec, f"replacement={rep!r}")
    scheme = opts["prepend_scheme"]
    if scheme not in ("always", "first", "never"):
        raise unsupported("pre_tokenizer", spec, f"prepend_scheme={scheme!r}")
    # the legacy option only has to agree with the scheme (the library refuses the file if not)
    if opts["add_prefix_space"] not in (None, True) and not (opts["add_prefix_space"] is False and scheme == "never"):
        raise unsupported("pre_tokenizer", spec, f"add_prefix_space={opts['add_prefix_space']!r} with {scheme!r}")
    return Metaspace(rep, scheme, _bool(spec, opts, "split"))


def _split(spec: dict[str, Any]) -> PreTokenizer:
    opts = _options(spec, {"pattern": None, "behavior": None, "invert": False})
    compiled = replace_pattern("pre_tokenizer", spec, opts["pattern"])
    return SplitPre(compiled, _behavior(spec, opts["behavior"]), _bool(spec, opts, "invert"))


def _punctuation(spec: dict[str, Any]) -> PreTokenizer:
    opts = _options(spec, {"behavior": "Isolated"})
    return SplitPre(CharPattern(_unicode.BERT_PUNCTUATION), _behavior(spec, opts["behavior"]))


def _digits(spec: dict[str, Any]) -> PreTokenizer:
    opts = _options(spec, {"individual_digits": False})
    individual = _bool(spec, opts, "individual_digits")
    return SplitPre(CharPattern(_unicode.NUMERIC), "isolated" if individual else "contiguous")


def _whitespace(spec: dict[str, Any]) -> PreTokenizer:
    _options(spec, {})
    return SplitPre(_WORDS, "removed", invert=True)


def _whitespace_split(spec: dict[str, Any]) -> PreTokenizer:
    _options(spec, {})
    return SplitPre(_NON_WHITESPACE, "removed", invert=True)


def _bert(spec: dict[str, Any]) -> PreTokenizer:
    # the library removes whitespace, then isolates each punctuation char: one pass keeps
    # the punctuation chars and the runs of anything else
    _options(spec, {})
    return SplitPre(_BERT_WORDS, "removed", invert=True)


def _sequence(spec: dict[str, Any]) -> PreTokenizer:
    items = _options(spec, {"pretokenizers": None})["pretokenizers"]
    if not isinstance(items, list):
        raise unsupported("pre_tokenizer", spec, "pretokenizers must be a list")
    return Sequence([p for p in (build_pre_tokenizer(item) for item in items) if p is not None])


_BUILDERS: dict[str, Callable[[dict[str, Any]], PreTokenizer]] = {
    "ByteLevel": _byte_level,
    "Whitespace": _whitespace,
    "WhitespaceSplit": _whitespace_split,
    "BertPreTokenizer": _bert,
    "Metaspace": _metaspace,
    "Punctuation": _punctuation,
    "Digits": _digits,
    "Split": _split,
    "Sequence": _sequence,
}


def build_pre_tokenizer(spec: dict[str, Any] | None) -> PreTokenizer | None:
    """The pre-tokenizer for a ``tokenizer.json`` ``pre_tokenizer`` entry (None for ``null``)."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise unsupported("pre_tokenizer", spec, "not an object")
    builder = _BUILDERS.get(spec.get("type"))  # type: ignore[arg-type]
    if builder is None:
        raise unsupported("pre_tokenizer", spec)
    return builder(spec)
