"""The pure-Python normalizers and ``NormalizedString`` against the library's.

Each normalizer is built from the same tokenizer.json spec on both sides; the library's
result is read through ``PreTokenizedString``, cut into single normalized characters, so
``get_splits`` gives every character's offsets in the input -- the alignments the pipeline
maps token offsets through. Ours must give the same characters with the same offsets.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest
import tokenizers
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizer_corpus import held_out_texts
from tokenizers import PreTokenizedString, Regex, Tokenizer, pre_tokenizers

from codex_tokenizers.pure import _unicode_data
from codex_tokenizers.pure._types import UnsupportedComponentError
from codex_tokenizers.pure.normalized import NormalizedString
from codex_tokenizers.pure.normalizers import build_normalizer

Chars = list[tuple[str, tuple[int, int]]]

AWKWARD = ["👩‍👩‍👧 🏳️‍🌈 👍🏽", "e\u0301 n\u0303\u0301 a\u0316\u0301 x\u0301\u0316", "한국어 \u1100\u1161\u11a8", "日本語 中文，标点。",
           "ﬁ ﬂ ㎒ ① Ⅻ ½ ²", "\x00\x01\x1b[0m\x7f\x85", "\t\n \r\n  \u3000\xa0 ", "\u200b\u200d\ufeff\u00ad",
           "İstanbul ΑΣ ΣΑΣ ß ẞ", "\u0f73\u0f39 \u0344 \U0001d15e", "\U00011935\U00011930 \ua7f2 \u32ff",
           "\u1c89 \ua7cb \U00010d50", "long" * 200, "Ǻ a\u030a\u0301 \u212b"]

SPECS: list[dict[str, Any]] = [
    {"type": "NFC"},
    {"type": "NFD"},
    {"type": "NFKC"},
    {"type": "NFKD"},
    {"type": "Lowercase"},
    {"type": "StripAccents"},
    {"type": "Strip", "strip_left": True, "strip_right": True},
    {"type": "Strip", "strip_left": False, "strip_right": True},
    {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
    {"type": "Replace", "pattern": {"String": "ll"}, "content": "L"},
    {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
    {"type": "Replace", "pattern": {"Regex": r"(?i)[aeou]"}, "content": ""},
    {"type": "Replace", "pattern": {"Regex": r"\p{N}"}, "content": "<num>"},
    {"type": "Prepend", "prepend": "\u2581"},
    {"type": "Prepend", "prepend": ""},
    {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
    {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": False, "strip_accents": True, "lowercase": False},
    {"type": "BertNormalizer", "clean_text": False, "handle_chinese_chars": True, "strip_accents": False, "lowercase": True},
    {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}, {"type": "Lowercase"}]},
    {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                         {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Strip", "strip_left": True, "strip_right": True},
                                         {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}]},
]
EACH_CHAR = pre_tokenizers.Split(Regex(r"(?m:.)"), "isolated")


@cache
def library_normalizer(spec_json: str) -> Any:
    spec = {"version": "1.0", "added_tokens": [], "normalizer": json.loads(spec_json), "pre_tokenizer": None,
            "post_processor": None, "decoder": None, "truncation": None, "padding": None,
            "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}
    return Tokenizer.from_str(json.dumps(spec)).normalizer


def library_chars(spec: dict[str, Any], text: str) -> Chars:
    pts = PreTokenizedString(text)
    pts.normalize(library_normalizer(json.dumps(spec)).normalize)
    EACH_CHAR.pre_tokenize(pts)
    return [(s, o) for s, o, _ in pts.get_splits(offset_referential="original", offset_type="char") if s]


def pure_chars(spec: dict[str, Any], text: str) -> Chars:
    ns = NormalizedString(text)
    normalizer = build_normalizer(spec)
    assert normalizer is not None
    normalizer(ns)
    return [(ns.normalized[i], ns.original_offsets(i, i + 1)) for i in range(len(ns.normalized))]


def stdlib_sample(n: int = 3, size: int = 6000) -> list[str]:
    texts = held_out_texts()
    return [texts[i][:size] for i in range(0, len(texts), max(1, len(texts) // n))][:n]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: json.dumps(s)[:60])
def test_each_normalizer_aligns_like_the_library(spec: dict[str, Any]) -> None:
    for text in [*AWKWARD, *stdlib_sample()]:
        assert pure_chars(spec, text) == library_chars(spec, text), text[:40]


# Code points where the library's Unicode tables and Python's differ, and combining marks.
TRICKY = sorted({chr(c) for table in (_unicode_data.CCC_OVERRIDES, _unicode_data.NFKD_OVERRIDES,
                                      _unicode_data.LOWER_OVERRIDES, _unicode_data.ONIG_CATEGORY_OVERRIDES)
                 for c in table}
                | {chr(int(h, 16)) for h in re.findall(r"\\U([0-9a-f]{8})", _unicode_data.ONIG_UNASSIGNED)}
                | set("\u0301\u0316\u0345\u0334\u05b0\u0f71\u0f72\u0f73\u1161\u11a8\u3099\u00b2\u200d"))
TEXTS = st.one_of(st.text(max_size=40), st.sampled_from(AWKWARD),
                  st.lists(st.sampled_from([*TRICKY, "a", "e", " ", "I"]), max_size=12).map("".join),
                  st.lists(st.sampled_from([*AWKWARD, "a", " ", "\u0301", "\u0316", "Σ", "İ"]), max_size=6).map("".join))


@settings(max_examples=400, deadline=None)
@given(spec=st.sampled_from(SPECS), text=TEXTS)
def test_normalizers_on_generated_text(spec: dict[str, Any], text: str) -> None:
    assert pure_chars(spec, text) == library_chars(spec, text)


def test_normalized_string_starts_aligned_to_itself() -> None:
    ns = NormalizedString("héllo", offset=7)
    assert ns.alignments == [(7, 8), (8, 9), (9, 10), (10, 11), (11, 12)]
    assert ns.original_offsets(1, 3) == (8, 10)


def test_transform_aligns_inserted_and_merged_chars() -> None:
    ns = NormalizedString("abcd")
    # "X" inserted before everything (aligned to the piece start), "b" swallows "c"
    ns.transform([("X", 1), ("a", 0), ("b", -1), ("d", 0), ("!", 1)])
    assert ns.normalized == "Xabd!"
    assert ns.alignments == [(0, 0), (0, 1), (1, 2), (3, 4), (3, 4)]


def test_slice_keeps_its_part_of_the_original() -> None:
    ns = NormalizedString("x ﬁne", offset=3)
    ns.nfkc()
    piece = ns.slice(2, 5)  # "fin": "fi" came from the ligature
    assert (piece.normalized, piece.original, piece.offset) == ("fin", "ﬁn", 5)
    assert piece.original_offsets(0, 1) == (5, 6) and piece.original_offsets(2, 3) == (6, 7)


def test_empty_range_maps_through_bytes_like_the_library() -> None:
    # The library returns an empty normalized range as it is, in *bytes*, reads those as bytes
    # of the original, and the binding maps them to the char holding that byte -- or leaves
    # them in bytes past the end of the input.
    ns = NormalizedString("ééx")
    ns.nfd()
    assert ns.normalized == "e\u0301e\u0301x"
    assert ns.original_offsets(2, 2) == (1, 1)  # 3 bytes in: inside the second "é"
    assert ns.original_offsets(4, 4) == (6, 6)  # 6 bytes in: past the end, left in bytes


def test_split_behaviors() -> None:
    ns = NormalizedString("the-final--countdown")
    expected = {
        "removed": ["the", "final", "countdown"],
        "isolated": ["the", "-", "final", "-", "-", "countdown"],
        "merged_with_previous": ["the-", "final-", "-", "countdown"],
        "merged_with_next": ["the", "-final", "-", "-countdown"],
        "contiguous": ["the", "-", "final", "--", "countdown"],
    }
    for behavior, pieces in expected.items():
        assert [p.normalized for p in ns.split("-", behavior)] == pieces


def test_unknown_normalizer_or_option_is_refused() -> None:
    for spec in [{"type": "Precompiled", "precompiled_charsmap": ""}, {"type": "Nmt"},
                 {"type": "Lowercase", "locale": "tr"}, {"type": "Strip", "strip_left": "yes"},
                 {"type": "Replace", "pattern": {"Regex": r"\p{Greek}"}, "content": ""},
                 {"type": "Replace", "pattern": {"Regex": r"[[:alpha:]]"}, "content": ""}]:
        with pytest.raises(UnsupportedComponentError):
            build_normalizer(spec)


def test_rewriting_after_an_insertion_at_the_start_is_refused_like_the_library_fails() -> None:
    spec = {"type": "Sequence", "normalizers": [{"type": "Replace", "pattern": {"Regex": "^"}, "content": "X"},
                                                {"type": "Lowercase"}]}
    with pytest.raises(BaseException, match="index out of bounds"):  # the library panics
        library_normalizer(json.dumps(spec)).normalize_str("ab")
    with pytest.raises(UnsupportedComponentError):
        pure_chars(spec, "ab")


def test_unicode_tables_match_the_installed_library() -> None:
    """The tables in _unicode_data were mined from one library version; regenerate them with
    tests/pure/unicode_tables_gen.py when it changes."""
    assert tokenizers.__version__ == _unicode_data.TOKENIZERS_VERSION
