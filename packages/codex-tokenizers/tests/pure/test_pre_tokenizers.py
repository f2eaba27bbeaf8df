"""The pure-Python pre-tokenizers against the library's: the same pieces, each with the same
span of the input, and the same offsets for every character of every piece (read through
``PreTokenizedString``), after a normalizer or none.

``Split`` patterns are Oniguruma regexes; ours run them with the ``regex`` module, so the
real-world patterns (GPT-2/4, o200k, Qwen, DeepSeek, Bloom) are checked on source code and on
arbitrary Unicode, including code points Oniguruma's Unicode version does not know yet.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizer_corpus import held_out_texts
from tokenizers import PreTokenizedString, Regex, Tokenizer, pre_tokenizers

from codex_tokenizers.pure import _unicode_data
from codex_tokenizers.pure._types import UnsupportedComponentError
from codex_tokenizers.pure.normalized import NormalizedString
from codex_tokenizers.pure.normalizers import build_normalizer
from codex_tokenizers.pure.pre_tokenizers import build_pre_tokenizer

Pieces = list[tuple[str, tuple[int, int]]]

AWKWARD = ["👩‍👩‍👧 🏳️‍🌈 👍🏽", "e\u0301 n\u0303\u0301", "한국어 日本語のテキスト 中文，标点。", "ﬁ ﬂ ① Ⅻ ½ ² ٣",
           "\x00\x01\x1b[0m\x85", "\t\n \r\n  \u3000\xa0  x  ", "İstanbul ıI ſ K ß", "don't I'LL we've 'S",
           "x=1_000+2.5e-3; y[i]//=3", "\U0001d7d8\U0001d7d9 \u2167 \u0558\u0295 \U00010d50", "a" * 300,
           "line one\nline two\r\n\nend\n", "  leading and trailing  "]

SPLIT_PATTERNS = [
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"[\r\n]|\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕ]+|\s?[!-/:-~！-／：-～‘-‟　-。]+|\s+$|[一-龥ࠀ-一가-퟿]+|\p{N}",
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r" ?[^(\s|[.,!?…。，、।۔،])]+",
    r"\w+|\W", r"\d+|\D", r"\b", r"^\s*|\s*$", r"(?m).$", r"\h+", r"x*", r"\Z|\A.", r"(?i)is|I[ts]",
    r"(?<=\p{Ll})(?=\p{Lu})", r"[\p{Cn}\p{Co}]+", r"\P{L}+", r"[\p{Ll}&&[^aeo]]+",
]

SPECS: list[dict[str, Any]] = [
    {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    {"type": "Whitespace"},
    {"type": "WhitespaceSplit"},
    {"type": "BertPreTokenizer"},
    {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
    {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
    {"type": "Metaspace", "replacement": "_", "prepend_scheme": "never", "split": False},
    {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": False, "prepend_scheme": "never",
     "str_rep": "\u2581"},
    *({"type": "Punctuation", "behavior": b} for b in
      ("Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous")),
    {"type": "Digits", "individual_digits": True},
    {"type": "Digits", "individual_digits": False},
    *({"type": "Split", "pattern": {"Regex": p}, "behavior": "Isolated", "invert": False} for p in SPLIT_PATTERNS),
    {"type": "Split", "pattern": {"Regex": r"\s+"}, "behavior": "Removed", "invert": True},
    {"type": "Split", "pattern": {"Regex": r"\p{N}"}, "behavior": "Contiguous", "invert": False},
    {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": False},
    {"type": "Split", "pattern": {"String": "ab"}, "behavior": "MergedWithPrevious", "invert": True},
    {"type": "Split", "pattern": {"String": ""}, "behavior": "Isolated", "invert": False},
    {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Digits", "individual_digits": True}]},
    {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": SPLIT_PATTERNS[1]}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
    {"type": "Sequence", "pretokenizers": [{"type": "Punctuation", "behavior": "Isolated"},
                                           {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"}]},
]
NORMALIZERS: list[dict[str, Any] | None] = [
    None,
    {"type": "NFKD"},
    {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]},
    {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
    {"type": "Strip", "strip_left": True, "strip_right": True},
]
EACH_CHAR = pre_tokenizers.Split(Regex(r"(?m:.)"), "isolated")


@cache
def library(normalizer_json: str, pre_json: str) -> Tokenizer:
    spec = {"version": "1.0", "added_tokens": [], "normalizer": json.loads(normalizer_json),
            "pre_tokenizer": json.loads(pre_json), "post_processor": None, "decoder": None, "truncation": None,
            "padding": None, "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}
    return Tokenizer.from_str(json.dumps(spec))


def library_pieces(normalizer: dict[str, Any] | None, pre: dict[str, Any], text: str) -> tuple[Pieces, Pieces]:
    tok = library(json.dumps(normalizer), json.dumps(pre))
    pts = PreTokenizedString(text)
    if tok.normalizer is not None:
        pts.normalize(tok.normalizer.normalize)
    tok.pre_tokenizer.pre_tokenize(pts)

    def splits() -> Pieces:
        return [(s, o) for s, o, _ in pts.get_splits(offset_referential="original", offset_type="char") if s]

    pieces = splits()
    EACH_CHAR.pre_tokenize(pts)
    return pieces, splits()


def pure_pieces(normalizer: dict[str, Any] | None, pre: dict[str, Any], text: str) -> tuple[Pieces, Pieces]:
    ns = NormalizedString(text)
    norm = build_normalizer(normalizer)
    if norm is not None:
        norm(ns)
    pre_tokenizer = build_pre_tokenizer(pre)
    assert pre_tokenizer is not None
    pieces = pre_tokenizer([ns])
    chars = [(p.normalized[i], p.original_offsets(i, i + 1)) for p in pieces for i in range(len(p.normalized))]
    return [(p.normalized, p.original_span) for p in pieces if p.normalized], chars


def stdlib_sample(n: int = 3, size: int = 5000) -> list[str]:
    texts = held_out_texts()
    return [texts[i][:size] for i in range(0, len(texts), max(1, len(texts) // n))][:n]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: json.dumps(s)[:70])
def test_each_pre_tokenizer_cuts_like_the_library(spec: dict[str, Any]) -> None:
    for text in [*AWKWARD, *stdlib_sample()]:
        for normalizer in (None, {"type": "NFKD"}):
            assert pure_pieces(normalizer, spec, text) == library_pieces(normalizer, spec, text), text[:40]


# Code points where the library's Unicode tables and Python's differ, and combining marks.
TRICKY = sorted({chr(c) for table in (_unicode_data.CCC_OVERRIDES, _unicode_data.NFKD_OVERRIDES,
                                      _unicode_data.LOWER_OVERRIDES, _unicode_data.ONIG_CATEGORY_OVERRIDES)
                 for c in table}
                | {chr(int(h, 16)) for h in re.findall(r"\\U([0-9a-f]{8})", _unicode_data.ONIG_UNASSIGNED)}
                | set("\u0301\u0316\u0345\u0334\u05b0\u0f71\u0f72\u0f73\u1161\u11a8\u3099\u00b2\u200d"))
TEXTS = st.one_of(st.text(max_size=40), st.sampled_from(AWKWARD),
                  st.lists(st.sampled_from([*TRICKY, "a", "e", " ", "I"]), max_size=12).map("".join),
                  st.lists(st.sampled_from([*AWKWARD, " ", "  ", "\n", "'s", "ab", "12", "İ", "\u2581"]),
                           max_size=5).map("".join))


@settings(max_examples=500, deadline=None)
@given(spec=st.sampled_from(SPECS), normalizer=st.sampled_from(NORMALIZERS), text=TEXTS)
def test_pre_tokenizers_on_generated_text(spec: dict[str, Any], normalizer: dict[str, Any] | None,
                                          text: str) -> None:
    assert pure_pieces(normalizer, spec, text) == library_pieces(normalizer, spec, text)


ATOMS = ["a", "b", "A", " ", "'", ".", r"\.", "[ab]", "[^a]", "[a-z]", r"\s", r"\S", r"\w", r"\W", r"\d", r"\D",
         r"\p{L}", r"\p{N}", r"\P{L}", r"\p{Lu}", r"\p{M}", r"[\s\p{L}]", r"[^\s\p{L}\p{N}]", r"\h", "é", r"\x{301}",
         "i", "I", "[\r\n]", "²", "^", "$", r"\b", r"\B", r"\A", r"\z", r"\Z"]
QUANTIFIERS = ["", "", "*", "+", "?", "{1,2}", "*?", "+?", "??", "++"]
patterns = st.recursive(
    st.tuples(st.sampled_from(ATOMS), st.sampled_from(QUANTIFIERS)).map("".join),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map("".join),
        st.tuples(inner, inner).map("|".join),
        st.tuples(st.sampled_from(["(", "(?:", "(?=", "(?!", "(?i:", "(?m:"]), inner,
                  st.sampled_from(QUANTIFIERS)).map(lambda t: f"{t[0]}{t[1]}){t[2] if t[0] in ('(', '(?:') else ''}"),
    ),
    max_leaves=6,
)
pattern_texts = st.text(st.sampled_from([*"aabbAB '.-\u0301\u0130\u0131iI\n\r\t²日x1 ", "\U00010d50", "\u0295"]),
                        max_size=14)


@settings(max_examples=400, deadline=None)
@given(pattern=patterns, texts=st.lists(pattern_texts, min_size=1, max_size=4))
def test_generated_oniguruma_patterns_match_like_the_library(pattern: str, texts: list[str]) -> None:
    try:
        library_split = pre_tokenizers.Split(Regex(pattern), "isolated")
    except Exception:
        return  # Oniguruma rejects it
    try:
        pure_split = build_pre_tokenizer({"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated",
                                          "invert": False})
    except UnsupportedComponentError:
        return
    assert pure_split is not None
    for text in texts:
        expected = [s for s, _ in library_split.pre_tokenize_str(text)]
        assert [p.normalized for p in pure_split([NormalizedString(text)])] == expected


def test_metaspace_first_prepends_only_at_the_start_of_the_input() -> None:
    pre = build_pre_tokenizer({"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"})
    assert pre is not None
    later = NormalizedString("Hello world").slice(6, 11)
    assert [p.normalized for p in pre([NormalizedString("Hello"), later])] == ["\u2581Hello", "world"]


def test_byte_level_aligns_every_byte_to_its_char() -> None:
    pre = build_pre_tokenizer({"type": "ByteLevel", "add_prefix_space": False, "use_regex": True})
    assert pre is not None
    (piece,) = pre([NormalizedString("é")])
    assert piece.normalized == "Ã©" and piece.alignments == [(0, 1), (0, 1)]


@pytest.mark.parametrize("pattern", [r"\p{Greek}+", r"[[:alpha:]]", r"(?x) a b", r"(?i)[a-z]+", r"(?i)\p{Lu}",
                                     r"\Ga", r"a\Kb", r"(?i)[^hi]", r"(?i)[\w&&[^a]]", r"(a", r"\b.+a",
                                     r"(?:a|$)+"])
def test_patterns_this_engine_cannot_guarantee_are_refused(pattern: str) -> None:
    with pytest.raises(UnsupportedComponentError):
        build_pre_tokenizer({"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False})


@pytest.mark.parametrize("spec", [{"type": "UnicodeScripts"}, {"type": "CharDelimiterSplit", "delimiter": " "},
                                  {"type": "ByteLevel", "add_prefix_space": True, "extra": 1},
                                  {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "sometimes"},
                                  {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": False},
                                  {"type": "Split", "pattern": {"Glob": "*"}, "behavior": "Isolated"},
                                  {"type": "Punctuation", "behavior": "Exploded"}])
def test_unknown_pre_tokenizers_and_options_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedComponentError):
        build_pre_tokenizer(spec)
