"""Added tokens against the library: the same segments, ids, token strings and offsets.

Both sides run a tokenizer.json with a WordLevel model, so every segment the added tokens
leave is one token (its word or ``[UNK]``) and the encoding shows exactly how the input was
cut: ``pure_encode`` is the smallest pipeline over ``AddedVocabulary.split``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizer_corpus import held_out_texts
from tokenizers import Tokenizer

from codex_tokenizers.pure._types import UnsupportedComponentError
from codex_tokenizers.pure.added_vocab import AddedVocabulary
from codex_tokenizers.pure.normalizers import build_normalizer
from codex_tokenizers.pure.pre_tokenizers import build_pre_tokenizer

Encoded = list[tuple[int, str, tuple[int, int]]]
VOCAB = {"[UNK]": 0, "hello": 1, "▁hello": 2, "Hello": 3, "my": 4, "name": 5, "is": 6}


class WordLevel:
    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab, self.vocab_size = vocab, len(vocab)

    def token_to_id(self, token: str) -> int | None:
        return self.vocab.get(token)


def token(content: str, **options: Any) -> dict[str, Any]:
    spec = {"id": 0, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": False}
    return spec | options


def tokenizer_json(added: list[dict[str, Any]], normalizer: dict[str, Any] | None = None,
                   pre: dict[str, Any] | None = None, vocab: dict[str, int] = VOCAB) -> dict[str, Any]:
    return {"version": "1.0", "added_tokens": added, "normalizer": normalizer, "pre_tokenizer": pre,
            "post_processor": None, "decoder": None, "truncation": None, "padding": None,
            "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}}


def library_encode(spec: dict[str, Any], text: str, **kwargs: Any) -> Encoded:
    encoding = Tokenizer.from_str(json.dumps(spec)).encode(text, **kwargs)
    return list(zip(encoding.ids, encoding.tokens, encoding.offsets, strict=True))


def pure_encode(spec: dict[str, Any], text: str, encode_special_tokens: bool = False) -> Encoded:
    vocab = spec["model"]["vocab"]
    added = AddedVocabulary(spec["added_tokens"], WordLevel(vocab), encode_special_tokens=encode_special_tokens)
    normalizer = build_normalizer(spec["normalizer"])
    pre = build_pre_tokenizer(spec["pre_tokenizer"])
    out: Encoded = []
    for segment, found in added.split(text, normalizer):
        pieces = [segment] if found is not None or pre is None else pre([segment])
        for piece in pieces:
            word = piece.normalized
            tid = found if found is not None else vocab.get(word, 0)
            out.append((tid, word if found is not None or word in vocab else "[UNK]",
                        piece.original_offsets(0, len(word))))
    return out


def assert_same(spec: dict[str, Any], *texts: str) -> None:
    for text in texts:
        assert pure_encode(spec, text) == library_encode(spec, text), text


def test_special_and_classic_tokens_are_cut_out() -> None:
    spec = tokenizer_json([token("my"), token("name"), token("[CLS]", special=True), token("[SEP]", special=True)],
                          pre={"type": "WhitespaceSplit"})
    assert_same(spec, "[CLS] My name is Anthony [SEP]", "[CLS][CLS]name[SEP]x", "", "[CL", "myname")


def test_options_lstrip_rstrip_single_word_normalized() -> None:
    spec = tokenizer_json([token("my", lstrip=True, rstrip=True, normalized=True), token("name", normalized=True),
                           token("ony", single_word=True, normalized=True), token("[CLS]", special=True)],
                          normalizer={"type": "Lowercase"}, pre={"type": "WhitespaceSplit"})
    assert_same(spec, "[CLS] My name is Anthony [SEP]", "  MY  ony ony, Sony ony_ onyx", "my", " \t my\u3000 ")


def test_single_word_uses_unicode_word_characters() -> None:
    spec = tokenizer_json([token("<mask>", single_word=True, lstrip=True, rstrip=True, normalized=True)],
                          normalizer={"type": "Lowercase"})
    assert_same(spec, "<mask>, <mask>- \u25cc\u0330<mask> A<mask> <mask>ony <mask>",
                "Hi <mask> there\t<mask>\t<mask>\u2000", "²<mask> ½<mask> \u200d<mask>\u200c")


def test_rstrip_overlapping_the_next_token_is_kept_as_the_library_does() -> None:
    spec = tokenizer_json([token(" ", rstrip=True, normalized=True, special=True), token("\n", lstrip=True)],
                          normalizer={"type": "NFKC"})
    assert_same(spec, "\xa0\u03a3  <s>\nc", "a   b \n\n c")


def test_leftmost_longest_match_wins() -> None:
    spec = tokenizer_json([token("ab"), token("abc"), token("bcd"), token("c", normalized=True)])
    assert_same(spec, "abcd", "xabcdabx", "bcbcd", "cccc")


def test_normalized_tokens_match_the_normalized_text() -> None:
    spec = tokenizer_json([token("Hello", normalized=True), token("ﬁ", normalized=True), token("é", normalized=False)],
                          normalizer={"type": "Sequence", "normalizers": [{"type": "NFKD"}, {"type": "Lowercase"}]},
                          pre={"type": "Whitespace"})
    assert_same(spec, "HELLO hello Hello fi ﬁ é e\u0301", "xhelloy")


def test_metaspace_first_after_an_added_token_follows_the_offsets() -> None:
    # "first" means: the piece starts the input (offset 0) -- not after a leading added token,
    # and not after a normalizer stripped the input's first characters.
    pre = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}
    assert_same(tokenizer_json([token("<s>", special=True)], pre=pre),
                "<s>hello", "hello <s> hello", " <s>hello", "hello")
    assert_same(tokenizer_json([], {"type": "Strip", "strip_left": True, "strip_right": True}, pre), "  hello", "hello ")


def test_ids_are_assigned_like_the_library_loads_them() -> None:
    added = [token("<x>", id=17), token("hello", id=99), token("<y>", id=3, special=True), token("", id=5)]
    spec = tokenizer_json(added)
    assert_same(spec, "<y>hello<x>")
    vocab = AddedVocabulary(added, WordLevel(VOCAB))
    library = Tokenizer.from_str(json.dumps(spec))
    assert len(VOCAB) + vocab.count_not_in_model() == library.get_vocab_size(with_added_tokens=True)
    assert [vocab.token_to_id(t) for t in ("<x>", "hello", "<y>")] == [library.token_to_id(t) for t in ("<x>", "hello", "<y>")]


def test_a_token_given_twice_keeps_the_last_options() -> None:
    spec = tokenizer_json([token("<a>", lstrip=True, special=True), token("<a>", normalized=True)],
                          normalizer={"type": "Lowercase"})
    assert_same(spec, "x <a> <A>")


def test_special_tokens_are_skipped_when_decoding() -> None:
    spec = tokenizer_json([token("<s>", special=True), token("<a>"), token("hello", special=True)])
    vocab = AddedVocabulary(spec["added_tokens"], WordLevel(VOCAB))
    library = Tokenizer.from_str(json.dumps(spec))
    ids = library.encode("<s>my<a>hello").ids
    kept = [library.id_to_token(i) for i in ids if not vocab.is_special(library.id_to_token(i))]
    assert " ".join(kept) == library.decode(ids, skip_special_tokens=True)
    assert vocab.special_ids() == {library.token_to_id("<s>"), library.token_to_id("hello")}


def test_add_special_tokens_and_encode_special_tokens() -> None:
    spec = tokenizer_json([token("<s>", special=True), token("<a>")])
    text = "<s>x<a>y"
    assert pure_encode(spec, text) == library_encode(spec, text, add_special_tokens=False)
    library = Tokenizer.from_str(json.dumps(spec))
    library.encode_special_tokens = True
    encoding = library.encode(text)
    assert pure_encode(spec, text, encode_special_tokens=True) == list(
        zip(encoding.ids, encoding.tokens, encoding.offsets, strict=True))


def test_real_text_with_many_added_tokens() -> None:
    added = [token(w, normalized=n, special=s) for w, n, s in
             [("def", False, False), ("self", True, False), ("return", False, True), ("    ", False, False),
              ("\n", False, True), ("None", True, True), ("__init__", False, False)]]
    spec = tokenizer_json(added, {"type": "NFKC"}, {"type": "ByteLevel", "add_prefix_space": True, "use_regex": True,
                                                    "trim_offsets": True})
    assert_same(spec, *(t[:4000] for t in held_out_texts()[:3]))


def test_a_token_inside_whitespace_the_previous_one_stripped_is_refused_like_the_library_fails() -> None:
    spec = tokenizer_json([token("x", rstrip=True), token("\n", lstrip=True)])
    with pytest.raises(BaseException, match="bad split"):  # the library panics
        library_encode(spec, "ax\n b")
    with pytest.raises(UnsupportedComponentError):
        pure_encode(spec, "ax\n b")


@pytest.mark.parametrize("added, normalizer", [
    ([token("Hello", normalized=True), token("HELLO", normalized=True)], {"type": "Lowercase"}),
    ([token("  ", normalized=True)], {"type": "Strip", "strip_left": True, "strip_right": True}),
])
def test_ambiguous_or_empty_normalized_tokens_are_refused(added: list[dict[str, Any]],
                                                         normalizer: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedComponentError):
        AddedVocabulary(added, WordLevel(VOCAB), build_normalizer(normalizer))


CONTENTS = ["<s>", "</s>", "[MASK]", "hello", "Hello", "lo", "l", " ", "\n", "é", "e\u0301", "<|end|>", "ab", "abc",
            "ﬁ", "fi", "ΣΑ", "İ", "日本"]
NORMALIZERS = [None, {"type": "Lowercase"}, {"type": "NFKC"}, {"type": "NFD"},
               {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None,
                "lowercase": True},
               {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                    {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}]
PRES = [None, {"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}]
added_tokens = st.lists(st.builds(token, st.sampled_from(CONTENTS), single_word=st.booleans(), lstrip=st.booleans(),
                                  rstrip=st.booleans(), normalized=st.booleans(), special=st.booleans()),
                        min_size=1, max_size=5)
texts = st.one_of(st.text(max_size=20), st.lists(st.sampled_from([*CONTENTS, "x", "  ", "\t", "\u3000", "HELLO"]),
                                                 max_size=8).map("".join))


@settings(max_examples=400, deadline=None)
@given(added=added_tokens, normalizer=st.sampled_from(NORMALIZERS), pre=st.sampled_from(PRES), text=texts)
def test_added_tokens_on_generated_cases(added: list[dict[str, Any]], normalizer: dict[str, Any] | None,
                                         pre: dict[str, Any] | None, text: str) -> None:
    spec = tokenizer_json(added, normalizer, pre)
    try:
        mine = pure_encode(spec, text)
    except UnsupportedComponentError:
        return  # tokens normalize alike (the library picks at random) or to nothing, or overlap
    assert mine == library_encode(spec, text)
