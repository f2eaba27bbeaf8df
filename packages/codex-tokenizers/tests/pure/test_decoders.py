"""The pure-Python decoders against the library's: same text from the same tokens, for tokens
of library-trained tokenizers on stdlib source and for generated token lists."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizer_corpus import held_out_texts, training_texts
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from codex_tokenizers.pure._types import UnsupportedComponentError
from codex_tokenizers.pure.byte_level import BYTE_TO_CHAR
from codex_tokenizers.pure.decoders import build_decoder, default_decode

EXAMPLES = settings(max_examples=300, deadline=None)
LLAMA = {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0},
]}


def library_decoder(spec: dict[str, Any] | None) -> Any:
    """The library's decoder built from ``spec`` inside a whole tokenizer.json."""
    return Tokenizer.from_str(json.dumps({
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
        "pre_tokenizer": None, "post_processor": None, "decoder": spec,
        "model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"},
    })).decoder


def library_decode(spec: dict[str, Any], tokens: list[str]) -> str | None:
    """The library's text, or None where it panics (a Rust bug; PanicException is a BaseException)."""
    try:
        return library_decoder(spec).decode(tokens)
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        return None


def _train(kind: str) -> Tokenizer:
    if kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer: Any = trainers.BpeTrainer(
            vocab_size=2000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
        )
    elif kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=2000, special_tokens=["[UNK]"], show_progress=False)
    else:
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=1000, unk_token="<unk>", special_tokens=["<unk>"], show_progress=False)
    tok.train_from_iterator(training_texts(300_000), trainer)
    return tok


@pytest.fixture(scope="module")
def trained_tokenizers() -> dict[str, Tokenizer]:
    return {kind: _train(kind) for kind in ("bpe", "wordpiece", "unigram")}


@pytest.fixture(scope="module")
def held_out_tokens(trained_tokenizers: dict[str, Tokenizer]) -> dict[str, list[list[str]]]:
    """Per tokenizer, the tokens of held-out stdlib lines (batches of 40 lines)."""
    lines = "".join(held_out_texts(150_000)).splitlines(keepends=True)
    chunks = ["".join(lines[i : i + 40]) for i in range(0, len(lines), 40)]
    return {kind: [e.tokens for e in tok.encode_batch(chunks)] for kind, tok in trained_tokenizers.items()}


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "unigram"])
def test_trained_tokenizers_decoders_give_the_library_text(trained_tokenizers, held_out_tokens, kind):
    spec = json.loads(trained_tokenizers[kind].to_str())["decoder"]
    ours, theirs = build_decoder(spec), trained_tokenizers[kind].decoder

    mismatches = [t for t in held_out_tokens[kind] if ours.decode(t) != theirs.decode(t)]

    assert len(held_out_tokens[kind]) > 50 and mismatches == []


def test_byte_level_decoder_matches_on_token_windows_that_cut_characters(trained_tokenizers, held_out_tokens):
    ours, theirs = build_decoder(json.loads(trained_tokenizers["bpe"].to_str())["decoder"]), trained_tokenizers["bpe"].decoder
    windows = [t[i : i + 7] for t in held_out_tokens["bpe"] for i in range(0, len(t), 5)]

    assert [ours.decode(w) for w in windows] == [theirs.decode(w) for w in windows]


@pytest.mark.parametrize("kind", ["unigram", "bpe"])
def test_llama_style_decoder_sequence_matches_on_real_tokens(held_out_tokens, kind):
    ours, theirs = build_decoder(LLAMA), library_decoder(LLAMA)

    assert [ours.decode(t) for t in held_out_tokens[kind]] == [theirs.decode(t) for t in held_out_tokens[kind]]


# -- generated token lists -----------------------------------------------------------------

AWKWARD = ["👩‍👩‍👧", "🏳️‍🌈", "👍🏽", "e\u0301", "한국어", "日本語", "中文，。", "\u200b\u200d", "İ", "ß", "\ufffd",
           "▁", "▁▁", "##", "Ġ", "ĠĠ", " ", "", ".", " ?", " n't", " do not", " 's", "</w>", "<0x41>", "<0xE2>",
           "<0x82>", "<0xAC>", "<0xff>", "<0x+1>", "<0x-1>", "<0xé>", "<0x1>", "<0xZZ>"]
text_token = st.one_of(st.sampled_from(AWKWARD), st.text(max_size=6), st.text(st.characters(codec="utf-8"), max_size=4))
byte_token = st.lists(st.integers(0, 255), min_size=1, max_size=4).map(lambda bs: "".join(BYTE_TO_CHAR[b] for b in bs))
utf8_token = st.text(min_size=1, max_size=3).map(lambda t: "".join(BYTE_TO_CHAR[b] for b in t.encode()))


def check(spec: dict[str, Any], tokens: list[str]) -> None:
    expected = library_decode(spec, tokens)
    ours = build_decoder(spec).decode(tokens)
    if expected is not None:
        assert ours == expected


@EXAMPLES
@given(tokens=st.lists(st.one_of(byte_token, utf8_token, text_token), max_size=12))
def test_byte_level_decoder_matches_on_generated_tokens(tokens):
    check({"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}, tokens)


@EXAMPLES
@given(tokens=st.lists(text_token, max_size=10), prefix=st.sampled_from(["##", "", "#", "▁", "a"]), cleanup=st.booleans())
def test_wordpiece_decoder_matches_on_generated_tokens(tokens, prefix, cleanup):
    check({"type": "WordPiece", "prefix": prefix, "cleanup": cleanup}, tokens)


@EXAMPLES
@given(tokens=st.lists(text_token, max_size=10), replacement=st.sampled_from(["▁", "_", "a", "👍"]),
       scheme=st.sampled_from(["always", "first", "never"]), split=st.booleans())
def test_metaspace_decoder_matches_on_generated_tokens(tokens, replacement, scheme, split):
    check({"type": "Metaspace", "replacement": replacement, "prepend_scheme": scheme, "split": split}, tokens)


sub_decoder = st.one_of(
    st.just({"type": "ByteFallback"}),
    st.just({"type": "Fuse"}),
    st.builds(lambda s: {"type": "BPEDecoder", "suffix": s}, st.sampled_from(["</w>", "", "a", "▁"])),
    st.builds(lambda c, a, b: {"type": "Strip", "content": c, "start": a, "stop": b},
              st.sampled_from([" ", "▁", "a", "<"]), st.integers(0, 3), st.integers(0, 3)),
    st.builds(lambda p, c: {"type": "Replace", "pattern": {"String": p}, "content": c},
              st.sampled_from(["▁", " ", "", "ab", "<0x"]), st.sampled_from([" ", "", "▁▁"])),
    st.builds(lambda p, c: {"type": "Replace", "pattern": {"Regex": p}, "content": c},
              st.sampled_from(["▁+", "^ ", " $", "x*", "a|", "[^a-c]", "(?<=a)b", "\\s+", ".", "(a)(?!b)", "\\.\\*",
                               "\\d+", "\\w", "\\b", "(?i)ss", "[a-z&&[^b]]", "\\h", "(?m).", "\\p{L}+", "a{,2}"]),
              st.sampled_from(["-", ""])),
    st.builds(lambda r: {"type": "Metaspace", "replacement": r, "prepend_scheme": "always", "split": True},
              st.sampled_from(["▁", " "])),
)


@EXAMPLES
@given(tokens=st.lists(text_token, max_size=10), spec=sub_decoder)
def test_each_simple_decoder_matches_on_generated_tokens(tokens, spec):
    check(spec, tokens)


@EXAMPLES
@given(tokens=st.lists(text_token, max_size=10), chain=st.lists(sub_decoder, max_size=4))
def test_decoder_sequences_match_on_generated_tokens(tokens, chain):
    check({"type": "Sequence", "decoders": chain}, tokens)


# -- one hand-built spec per component ------------------------------------------------------

HAND_BUILT = [
    ({"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False}, ["Hello", "Ġw", "orld", "Ġ\xe2\x82", "¬", "\xff"]),
    ({"type": "WordPiece", "prefix": "##", "cleanup": True}, ["I", "do", "not", "like", "it", "'", "s", "##y", "!"]),
    ({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}, ["▁Hey▁", "▁you"]),
    ({"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}, ["▁Hey▁", "▁you"]),
    ({"type": "BPEDecoder", "suffix": "</w>"}, ["hel", "lo</w>", "wor", "ld</w>"]),
    ({"type": "ByteFallback"}, ["<0xE5>", "<0x8F>", "<0xAB>", "a", "<0xE5>", "<0x8F>", "b", "<0x+9>"]),
    ({"type": "Fuse"}, ["a", "b", "c"]),
    ({"type": "Strip", "content": "H", "start": 1, "stop": 1}, ["Hey", "HHH", " friend!H"]),
    ({"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, ["▁Hey", "▁friend▁▁"]),
    ({"type": "Replace", "pattern": {"Regex": "x*"}, "content": "-"}, ["axb", "", "xx"]),
    ({"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]}, ["<0x61>", "b"]),
]


@pytest.mark.parametrize(("spec", "tokens"), HAND_BUILT, ids=lambda v: v.get("type") if isinstance(v, dict) else "")
def test_hand_built_decoder_gives_the_library_text(spec, tokens):
    assert build_decoder(spec).decode(tokens) == library_decoder(spec).decode(tokens)


def test_no_decoder_joins_tokens_with_spaces_like_the_library():
    tok = Tokenizer(models.WordLevel({"hello": 0, "world": 1, "[UNK]": 2}, unk_token="[UNK]"))

    assert default_decode(["hello", "world", "hello"]) == tok.decode([0, 1, 0]) and build_decoder(None) is None


@pytest.mark.parametrize("spec", [
    {"type": "CTC", "pad_token": "<pad>", "word_delimiter_token": "|", "cleanup": True},
    {"type": "Nope"},
    {"type": "WordPiece", "prefix": "##"},
    {"type": "Metaspace", "replacement": "▁", "add_prefix_space": False},
    {"type": "Strip", "content": "ab", "start": 1, "stop": 0},
    {"type": "Replace", "pattern": {"Regex": "\\K"}, "content": ""},
    {"type": "Replace", "pattern": {"Regex": "\\p{Emoji}"}, "content": ""},
    {"type": "Replace", "pattern": {"Regex": "(?<n>a)\\k<n>"}, "content": ""},
    {"type": "Strip", "pattern": {"String": "a"}, "content": "b"},
    {"type": "Nope", "replacement": "▁", "prepend_scheme": "always"},
    {"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "CTC"}]},
])
def test_unsupported_or_invalid_decoders_raise(spec):
    with pytest.raises(UnsupportedComponentError):
        build_decoder(spec)


@pytest.mark.parametrize("spec", [
    {"prefix": "##", "cleanup": False, "suffix": "##"},  # no type: the first untagged match (BPEDecoder)
    {"type": "WordPiece", "prefix": "##", "cleanup": False, "suffix": "##"},  # a known type wins
    {"type": "Nope", "content": "#", "start": 1, "stop": 1},
    {"type": "Fuse", "content": "#", "start": 1, "stop": 1},
    {"type": "Nope", "pattern": {"String": "#"}, "content": "!"},
])
def test_decoder_type_is_read_like_the_library(spec):
    tokens = ["#a#", "##b", "c##"]

    assert build_decoder(spec).decode(tokens) == library_decoder(spec).decode(tokens)
