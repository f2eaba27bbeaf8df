"""The pure-Python models against the library's: same ids, token strings and offsets, for
models the library trains on stdlib source, for one small hand-built model per option,
and for generated models and strings.

The library's ``Model.tokenize`` gives byte offsets; ours are character offsets, where a
token that covers part of a character (a byte-fallback token) gets the whole character,
as the library's encodings say. ``library_tokens`` converts; the tests through
``Tokenizer.encode`` (no normalizer, no pre-tokenizer) compare with the library's own
character offsets.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizer_corpus import held_out_texts, training_texts
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from codex_tokenizers.pure._types import UnsupportedComponentError
from codex_tokenizers.pure.models import ModelError, build_model

EXAMPLES = settings(max_examples=300, deadline=None)
Tokens = list[tuple[int, str, tuple[int, int]]]

BYTE_FALLBACK_TOKENS = [f"<0x{b:02X}>" for b in range(256)]

# Strings a model meets in the wild, and the awkward cases.
AWKWARD = ["👩‍👩‍👧", "🏳️‍🌈", "👍🏽", "e\u0301", "n\u0303\u0301", "한국어", "日本語のテキスト", "中文，标点。",
           "\x00\x01\x1b[0m", "\t\n", "\u200b\u200d\ufeff", "İstanbul", "ß", "Ⅻ½²", "a" * 300, "x" * 120 + "y",
           "def", "_init_", "return", "self.x", "0x1F"]
texts = st.lists(
    st.one_of(st.text(max_size=12), st.text(st.characters(codec="utf-8"), max_size=12), st.sampled_from(AWKWARD)),
    min_size=1, max_size=4,
).map("".join)


# -- helpers --------------------------------------------------------------------------------
def tokenizer_json(model: dict[str, Any]) -> str:
    """A whole tokenizer.json around ``model``: no other stage, so a text is one piece."""
    return json.dumps({
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
        "pre_tokenizer": None, "post_processor": None, "decoder": None, "model": model,
    })


def library_tokens(model: Any, piece: str) -> Tokens:
    """The library model's tokens of ``piece``, byte offsets turned into characters."""
    char_of = [i for i, c in enumerate(piece) for _ in c.encode("utf-8")] + [len(piece)]
    return [(t.id, t.value, (char_of[t.offsets[0]], char_of[t.offsets[1] - 1] + 1 if t.offsets[1] else 0))
            for t in model.tokenize(piece)]


def our_tokens(model: Any, piece: str) -> Tokens:
    return [(t.id, t.value, t.offsets) for t in model.tokenize(piece)]


def library_encoded(tokenizer: Tokenizer, text: str) -> Tokens | None:
    """The library's tokens of ``text`` as one piece (None where the library errors)."""
    try:
        enc = tokenizer.encode(text)
    except Exception:
        return None
    return list(zip(enc.ids, enc.tokens, enc.offsets, strict=True))


def our_encoded(model: Any, text: str) -> Tokens | None:
    try:
        return our_tokens(model, text)
    except ModelError:
        return None


def library_tokens_or_none(model: Any, piece: str) -> Tokens | None:
    try:
        return library_tokens(model, piece)
    except Exception:
        return None


def agree(spec: dict[str, Any], texts: list[str]) -> None:
    """Our model and the library's, both built from ``spec``, tokenize ``texts`` alike (as
    the model's tokens and, but for empty text, which the library never gives its model,
    as the encoding of ``text`` as one piece)."""
    library = Tokenizer.from_str(tokenizer_json(spec))
    ours = build_model(spec)
    for text in texts:
        mine = our_encoded(ours, text)
        assert mine == library_tokens_or_none(library.model, text), text
        if text:
            assert mine == library_encoded(library, text), text


# -- models the library trains on stdlib source ------------------------------------------------
def _train(kind: str) -> tuple[Tokenizer, Any]:
    if kind == "byte-level bpe":
        pre: Any = pre_tokenizers.ByteLevel(add_prefix_space=False)
        model: Any = models.BPE()
        trainer: Any = trainers.BpeTrainer(vocab_size=2000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                           show_progress=False)
    elif kind == "bpe with affixes":  # unknown characters: the unknown token, fused
        pre, model = pre_tokenizers.Whitespace(), models.BPE(unk_token="[UNK]", fuse_unk=True,
                                                             continuing_subword_prefix="##", end_of_word_suffix="</w>")
        trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["[UNK]"], limit_alphabet=70,
                                      continuing_subword_prefix="##", end_of_word_suffix="</w>", show_progress=False)
    elif kind == "bpe with byte fallback":  # unknown characters: their bytes (or <unk>: no <0xC8>..<0xFF>)
        pre, model = pre_tokenizers.Metaspace(), models.BPE(unk_token="<unk>", byte_fallback=True)
        trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["<unk>", *BYTE_FALLBACK_TOKENS[:200]],
                                      limit_alphabet=70, show_progress=False)
    elif kind == "wordpiece":
        pre, model = pre_tokenizers.BertPreTokenizer(), models.WordPiece(unk_token="[UNK]")
        trainer = trainers.WordPieceTrainer(vocab_size=2000, special_tokens=["[UNK]"], limit_alphabet=80,
                                            show_progress=False)
    else:
        pre, model = pre_tokenizers.Metaspace(), models.Unigram()
        trainer = trainers.UnigramTrainer(vocab_size=2000, special_tokens=["<unk>"], unk_token="<unk>",
                                          show_progress=False)
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre
    tok.train_from_iterator(training_texts(300_000), trainer)
    return tok, pre


KINDS = ["byte-level bpe", "bpe with affixes", "bpe with byte fallback", "wordpiece", "unigram"]


@pytest.fixture(scope="module", params=KINDS)
def trained(request: pytest.FixtureRequest) -> tuple[Tokenizer, Any, Any]:
    """(the library's trained tokenizer, our model from its JSON, its pre-tokenizer)."""
    tok, pre = _train(request.param)
    return tok, build_model(json.loads(tok.to_str())["model"]), pre


def test_trained_models_agree_on_every_held_out_piece(trained):
    tok, ours, pre = trained
    pieces = list(dict.fromkeys(p for text in held_out_texts(600_000) for p, _ in pre.pre_tokenize_str(text)))

    cold = [p for p in pieces if our_tokens(ours, p) != library_tokens(tok.model, p)]
    warm = [p for p in pieces if our_tokens(ours, p) != library_tokens(tok.model, p)]

    assert len(pieces) > 5000
    assert (cold, warm) == ([], [])


@EXAMPLES
@given(text=texts)
def test_trained_models_agree_on_generated_text(trained, text):
    tok, ours, pre = trained

    for piece, _ in pre.pre_tokenize_str(text):
        assert our_tokens(ours, piece) == library_tokens(tok.model, piece)


def test_trained_models_answer_vocabulary_questions_alike(trained):
    tok, ours, _ = trained
    vocab = tok.get_vocab(with_added_tokens=False)

    assert (ours.vocab, ours.vocab_size) == (vocab, tok.get_vocab_size(with_added_tokens=False))
    assert all(ours.id_to_token(id) == tok.model.id_to_token(id) == token for token, id in vocab.items())
    assert ours.id_to_token(len(vocab)) is None and ours.token_to_id("not a token at all") is None


# -- one small hand-built model per option ------------------------------------------------------
def bpe(vocab: list[str], merges: list[str], **options: Any) -> dict[str, Any]:
    spec = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": {token: id for id, token in enumerate(vocab)}, "merges": merges}
    return spec | options


ABC = ["<unk>", "a", "b", "c", "ab", "bc", "abc", "aa", "aaaa"]
ABC_MERGES = ["a b", "b c", "ab c", "a a", "aa aa"]
WORDS = ["", "a", "abc", "cab", "aaaaa", "abcabc", "bca", "xa", "axxb", "x😀éy", "é"]


def test_bpe_merges_as_strings_or_as_pairs_give_the_same_tokens():
    as_strings = bpe(ABC, ["#version: 0.2", *ABC_MERGES])
    as_pairs = bpe(ABC, [m.split(" ") for m in ABC_MERGES])

    agree(as_strings, WORDS)
    agree(as_pairs, WORDS)
    assert [our_tokens(build_model(as_strings), w) for w in WORDS] == [our_tokens(build_model(as_pairs), w) for w in WORDS]


def test_bpe_applies_the_lowest_ranked_merge_first_and_the_leftmost_of_equal_ranks():
    spec = bpe(ABC, ["aa aa", "a a", "b c", "a b", "ab c"])

    assert [t.value for t in build_model(spec).tokenize("aaaaabc")] == ["aaaa", "a", "bc"]
    agree(spec, ["aaaaabc", "abcaaa", "aaaaaaaaa"])


@pytest.mark.parametrize("unk_token", [None, "<unk>"])
@pytest.mark.parametrize("fuse_unk", [False, True])
def test_bpe_unknown_characters_are_dropped_or_the_unknown_token(unk_token, fuse_unk):
    spec = bpe(ABC, ABC_MERGES, unk_token=unk_token, fuse_unk=fuse_unk)

    agree(spec, WORDS)


def test_bpe_unknown_token_missing_from_the_vocabulary_fails_like_the_library():
    spec = bpe(ABC[1:], ABC_MERGES, unk_token="<unk>")

    agree(spec, ["abc", "axb"])
    with pytest.raises(ModelError, match="unk token"):
        build_model(spec).tokenize("axb")


@pytest.mark.parametrize("fuse_unk", [False, True])
def test_bpe_byte_fallback_gives_each_byte_the_offsets_of_its_character(fuse_unk):
    some_bytes = [f"<0x{b:02X}>" for b in "é😀".encode()]  # not those of 'ü'
    spec = bpe([*ABC, *some_bytes], ABC_MERGES, unk_token="<unk>", byte_fallback=True, fuse_unk=fuse_unk)

    assert our_tokens(build_model(spec), "aé") == [(1, "a", (0, 1)), (9, "<0xC3>", (1, 2)), (10, "<0xA9>", (1, 2))]
    agree(spec, [*WORDS, "üé", "aüüé😀üb"])


def test_bpe_continuing_subword_prefix_and_end_of_word_suffix():
    vocab = ["a", "b", "##a", "##b", "##c", "c</w>", "##c</w>", "##b</w>", "ab", "##bc</w>", "abc</w>", "ab</w>"]
    merges = ["a ##b", "##b ##c</w>", "ab ##c</w>", "a ##b</w>"]
    spec = bpe(vocab, merges, unk_token="a", continuing_subword_prefix="##", end_of_word_suffix="</w>")

    assert [t.value for t in build_model(spec).tokenize("abc")] == ["abc</w>"]
    agree(spec, ["abc", "ab", "abcabc", "c", "ba", "bxc", "cab"])


@pytest.mark.parametrize("ignore_merges", [False, True])
def test_bpe_ignore_merges_takes_a_word_of_the_vocabulary_whole(ignore_merges):
    spec = bpe([*ABC, "cab", "ca"], [*ABC_MERGES, "c a"], ignore_merges=ignore_merges)

    assert [t.value for t in build_model(spec).tokenize("cab")] == (["cab"] if ignore_merges else ["c", "ab"])
    agree(spec, WORDS)


def test_wordpiece_takes_the_longest_match_first_and_one_unknown_for_a_word_with_no_match():
    spec = {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(
                ["[UNK]", "a", "ab", "##a", "##b", "##bc", "##c", "é", "##😀"])}}

    assert [t.value for t in build_model(spec).tokenize("abca")] == ["ab", "##c", "##a"]
    agree(spec, ["abca", "abc", "éa😀", "abx", "x", "", "b", "##a"])


@pytest.mark.parametrize("max_chars", [0, 3, 4])
def test_wordpiece_a_word_longer_than_max_input_chars_per_word_is_unknown(max_chars):
    spec = {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": max_chars, "vocab": {"[UNK]": 0, "a": 1, "##a": 2, "é": 3, "##é": 4}}

    agree(spec, ["a", "aaa", "aaaa", "aaaaa", "ééé", "éééé", "aéaé"])


def test_wordpiece_without_its_unknown_token_fails_like_the_library():
    spec = {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": {"a": 0, "##b": 1}}

    agree(spec, ["ab", "ba"])
    with pytest.raises(ModelError, match=r"Missing \[UNK\]"):
        build_model(spec).tokenize("ba")


def unigram(pieces: list[tuple[str, float]], unk_id: int | None = 0, byte_fallback: bool = False) -> dict[str, Any]:
    return {"type": "Unigram", "unk_id": unk_id, "vocab": [list(p) for p in pieces], "byte_fallback": byte_fallback}


UNIGRAM = [("<unk>", 0.0), ("a", -1.0), ("b", -1.5), ("ab", -2.0), ("abc", -3.0), ("c", -2.0), ("bc", -2.5)]


def test_unigram_fuses_consecutive_unknowns_and_breaks_ties_like_the_library():
    spec = unigram(UNIGRAM)

    assert our_tokens(build_model(spec), "xyab") == [(0, "xy", (0, 2)), (3, "ab", (2, 4))]
    agree(spec, ["abc", "abcabc", "xyab", "axbxxc", "😀é", "", "<unk>", "a<unk>x"])


def test_unigram_byte_fallback_gives_each_byte_the_offsets_of_the_unknown_text():
    some_bytes = [(f"<0x{b:02X}>", -5.0) for b in "é😀".encode()]
    spec = unigram(UNIGRAM + some_bytes, byte_fallback=True)

    assert our_tokens(build_model(spec), "éa")[:2] == [(7, "<0xC3>", (0, 1)), (8, "<0xA9>", (0, 1))]
    agree(spec, ["éa", "aé😀b", "éü", "üé", "xa", "é😀"])


def test_unigram_without_an_unknown_id_fails_like_the_library_on_unknown_text():
    spec = unigram(UNIGRAM[1:], unk_id=None)

    agree(spec, ["abc", "axc", "x"])
    with pytest.raises(ModelError, match="unk_id"):
        build_model(spec).tokenize("axc")


def test_wordlevel_is_one_token_or_the_unknown_token():
    spec = {"type": "WordLevel", "vocab": {"<unk>": 0, "hello": 1, "😀": 2}, "unk_token": "<unk>"}

    agree(spec, ["hello", "😀", "héllo", ""])
    agree(spec | {"unk_token": "[UNK]"}, ["hello", "héllo"])


# -- what this engine refuses -----------------------------------------------------------------
@pytest.mark.parametrize("spec", [
    bpe(ABC, ABC_MERGES, dropout=0.1),
    bpe(ABC, ABC_MERGES, byte_fallback=True, continuing_subword_prefix="##"),
    bpe(ABC, ABC_MERGES, some_new_option=True),
    bpe(["a", "b", "ab", "x"], ["a b"]) | {"vocab": {"a": 0, "b": 1, "ab": 2, "x": 2}},
    {"type": "BacktrackingBpe", "vocab": {}, "merges": []},
], ids=["dropout", "byte-fallback-with-prefix", "unknown-option", "one-id-two-tokens", "unknown-model"])
def test_options_this_engine_cannot_match_are_refused_not_approximated(spec):
    with pytest.raises(UnsupportedComponentError, match="pure-Python tokenizer engine does not support model"):
        build_model(spec)


def test_dropout_zero_is_no_dropout():
    agree(bpe(ABC, ABC_MERGES, dropout=0.0), WORDS)


@pytest.mark.parametrize("merges", [["a x"], ["a b c"], ["a", "b"]])
def test_merges_the_library_refuses_are_refused(merges):
    spec = bpe(ABC, merges)

    with pytest.raises(Exception):  # noqa: B017 - the library's error type is a plain Exception
        Tokenizer.from_str(tokenizer_json(spec))
    with pytest.raises(ModelError):
        build_model(spec)


# -- generated models: random merges in random order, random scores with ties ------------------
KNOWN = "abcé😀"
UNKNOWN = "xü🎉"
words = st.lists(st.text(KNOWN + UNKNOWN, max_size=10), min_size=1, max_size=6)
byte_tokens = st.lists(st.sampled_from(sorted({f"<0x{b:02X}>" for c in KNOWN + UNKNOWN for b in c.encode()})),
                       unique=True)


@st.composite
def bpe_specs(draw: st.DrawFn) -> dict[str, Any]:
    prefix, suffix = draw(st.sampled_from(["", "##"])), draw(st.sampled_from(["", "</w>"]))
    chars = draw(st.lists(st.sampled_from(KNOWN), min_size=1, unique=True))
    pool = chars + [prefix + c for c in chars if prefix]
    pool += [t + suffix for t in pool if suffix]
    merges = []
    for _ in range(draw(st.integers(0, 30))):  # two merges may make the same token
        a = draw(st.sampled_from(pool))
        b = draw(st.sampled_from([t for t in pool if t.startswith(prefix)]))
        pool += [a + b[len(prefix):]]
        merges.append(f"{a} {b}")
    byte_fallback = not (prefix or suffix) and draw(st.booleans())
    pool += draw(byte_tokens) if byte_fallback else []
    unk = draw(st.sampled_from([None, "<unk>", "<missing>"]))
    pool += ["<unk>"] if unk == "<unk>" else []
    tokens = list(dict.fromkeys(pool))
    ids = draw(st.permutations(range(len(tokens))))
    merges = draw(st.permutations(merges))
    spec = bpe(tokens, merges if draw(st.booleans()) else [m.split(" ") for m in merges], unk_token=unk,
               fuse_unk=draw(st.booleans()), continuing_subword_prefix=prefix or None,
               end_of_word_suffix=suffix or None, byte_fallback=byte_fallback, ignore_merges=draw(st.booleans()))
    return spec | {"vocab": dict(zip(tokens, ids, strict=True))}


@st.composite
def unigram_specs(draw: st.DrawFn) -> dict[str, Any]:
    pieces = draw(st.lists(st.text(KNOWN, min_size=1, max_size=4), max_size=20))  # repeats too
    byte_fallback = draw(st.booleans())
    pieces += draw(byte_tokens) if byte_fallback else []
    scores = st.sampled_from([0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -12.0])
    vocab = [(p, draw(scores)) for p in pieces]
    unk_id = draw(st.none() | st.integers(0, len(vocab)))
    if unk_id is not None:
        vocab.insert(unk_id, ("<unk>", draw(scores)))
    return unigram(vocab, unk_id, byte_fallback)


@st.composite
def wordpiece_specs(draw: st.DrawFn) -> dict[str, Any]:
    prefix = draw(st.sampled_from(["##", "", "@@"]))
    tokens = draw(st.lists(st.text(KNOWN, min_size=1, max_size=4)))
    tokens += [prefix + t for t in draw(st.lists(st.text(KNOWN, min_size=1, max_size=3)))]
    tokens += ["[UNK]"] if draw(st.booleans()) else []
    return {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": prefix,
            "max_input_chars_per_word": draw(st.integers(0, 12)),
            "vocab": {t: i for i, t in enumerate(dict.fromkeys(tokens))}}


@EXAMPLES
@given(spec=bpe_specs(), texts=words)
def test_generated_bpe_models_agree(spec, texts):
    agree(spec, texts)


@EXAMPLES
@given(spec=unigram_specs(), texts=words)
def test_generated_unigram_models_agree(spec, texts):
    agree(spec, texts)


@EXAMPLES
@given(spec=wordpiece_specs(), texts=words)
def test_generated_wordpiece_models_agree(spec, texts):
    agree(spec, texts)
