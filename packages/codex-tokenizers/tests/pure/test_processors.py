"""The pure-Python post-processors against the library's: the input encodings come from the
library (same tokenizer, no post-processor, no special tokens) and the result must equal the
library's full ``encode`` — ids, tokens, offsets, type ids, masks, word/sequence ids and the
overflowing parts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizer_corpus import held_out_texts, training_texts
from tokenizers import AddedToken, Encoding, Tokenizer, models, normalizers, pre_tokenizers, trainers

from codex_tokenizers.pure._types import PureEncoding, UnsupportedComponentError
from codex_tokenizers.pure.processors import build_post_processor, default_process

SPECIALS = ["<s>", "</s>", "[CLS]", "[SEP]", "[UNK]"]  # ids 0..4 in both trained vocabularies
# Added tokens whose text holds whitespace (trimmed like "Ġ") or U+001C (not whitespace in Rust).
ODD_ADDED = [" xyz ", "\u3000jp", "\x1cq "]


def _train(kind: str) -> dict[str, Any]:
    if kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        trainer: Any = trainers.BpeTrainer(vocab_size=1500, special_tokens=SPECIALS, show_progress=False,
                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(vocab_size=1500, special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(training_texts(300_000), trainer)
    tok.add_tokens([AddedToken(t, normalized=False) for t in ODD_ADDED])
    return json.loads(tok.to_str())


@pytest.fixture(scope="module")
def base() -> dict[str, dict[str, Any]]:
    """tokenizer.json (no post-processor) of a byte-level BPE and a WordPiece trained on stdlib."""
    return {kind: _train(kind) for kind in ("bpe", "wordpiece")}


def fresh_tokenizer(spec: dict[str, Any], post_processor: dict[str, Any] | None) -> Tokenizer:
    return Tokenizer.from_str(json.dumps({**spec, "post_processor": post_processor}))


_LOADED: dict[tuple[int, str], Tokenizer] = {}


def tokenizer(spec: dict[str, Any], post_processor: dict[str, Any] | None) -> Tokenizer:
    """``spec`` with ``post_processor``, loaded by the library once (not to be modified)."""
    key = (id(spec), json.dumps(post_processor, sort_keys=True))
    if key not in _LOADED:
        _LOADED[key] = fresh_tokenizer(spec, post_processor)
    return _LOADED[key]


# -- hand-built processor specs, one or more per component -------------------------------------


def seq(ident: str, type_id: int) -> dict[str, Any]:
    return {"Sequence": {"id": ident, "type_id": type_id}}


def special(ident: str, type_id: int) -> dict[str, Any]:
    return {"SpecialToken": {"id": ident, "type_id": type_id}}


def byte_level(trim: bool, prefix: bool) -> dict[str, Any]:
    return {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": trim, "use_regex": True}


BERT_TEMPLATE = {
    "type": "TemplateProcessing",
    "single": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)],
    "pair": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)],
    "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                       "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}},
}
ODD_TEMPLATE = {  # $B twice, $A after $B, a two-id special token, type ids 2..7
    "type": "TemplateProcessing",
    "single": [seq("A", 2), special("two", 3), seq("A", 4)],
    "pair": [seq("B", 3), special("two", 7), seq("A", 0), seq("B", 5), special("[SEP]", 6)],
    "special_tokens": {"two": {"id": "two", "ids": [0, 1], "tokens": ["<s>", "</s>"]},
                       "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}},
}
BERT = {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}


def roberta(trim: bool, prefix: bool) -> dict[str, Any]:
    return {"type": "RobertaProcessing", "sep": ["</s>", 1], "cls": ["<s>", 0], "trim_offsets": trim,
            "add_prefix_space": prefix}


PROCESSORS = {
    **{f"bytelevel-trim{t:d}-prefix{p:d}": byte_level(t, p) for t in (True, False) for p in (True, False)},
    **{f"roberta-trim{t:d}-prefix{p:d}": roberta(t, p) for t in (True, False) for p in (True, False)},
    # The library reads post-processors as an untagged enum, whatever their "type" says:
    "roberta-without-trim-is-bert": {"type": "RobertaProcessing", "sep": ["</s>", 1], "cls": ["<s>", 0]},
    "bert-with-trim-is-roberta": {**BERT, "trim_offsets": True, "add_prefix_space": False},
    "bert": BERT,
    "template-bert": BERT_TEMPLATE,
    "template-odd": ODD_TEMPLATE,
    "sequence-llama3": {"type": "Sequence", "processors": [byte_level(False, True), BERT_TEMPLATE]},
    "sequence-template-then-bytelevel": {"type": "Sequence", "processors": [ODD_TEMPLATE, byte_level(True, True)]},
    "sequence-bert-then-roberta": {"type": "Sequence", "processors": [BERT, roberta(True, False)]},
    "sequence-odd-twice": {"type": "Sequence", "processors": [ODD_TEMPLATE, byte_level(True, False), byte_level(True, True)]},
}
FIELDS = ("ids", "tokens", "offsets", "type_ids", "special_tokens_mask", "attention_mask", "word_ids", "sequence_ids")


def fields(e: Encoding | PureEncoding) -> dict[str, Any]:
    out = {f: [tuple(x) if isinstance(x, tuple) else x for x in getattr(e, f)] for f in FIELDS}
    return {**out, "overflowing": [fields(o) for o in e.overflowing]}


def pure(e: Encoding, type_id: int) -> PureEncoding:
    """A library encoding (model stage, no special tokens) as the engine's input; a pair is
    encoded by the library with type id 1."""
    return PureEncoding(
        ids=e.ids, tokens=e.tokens, offsets=e.offsets, type_ids=[type_id] * len(e.ids),
        special_tokens_mask=e.special_tokens_mask, attention_mask=e.attention_mask, word_ids=e.word_ids,
        sequence_ids=e.sequence_ids, overflowing=[pure(o, type_id) for o in e.overflowing],
    )


def assert_same(spec: dict[str, Any], proc_spec: dict[str, Any], a: Any, b: Any, add: bool, **kw: Any) -> None:
    """Our processor on the library's bare encodings == the library's encode (kw: is_pretokenized)."""
    bare = tokenizer(spec, None)
    first = pure(bare.encode(a, add_special_tokens=False, **kw), 0)
    second = None if b is None else pure(bare.encode(b, add_special_tokens=False, **kw), 1)
    expected = tokenizer(spec, proc_spec).encode(a, b, add_special_tokens=add, **kw)

    assert fields(build_post_processor(proc_spec).process(first, second, add)) == fields(expected)


AWKWARD = ["", " ", "  leading", "trailing  ", "é é", "a\n\nb\n", "   x  y   ", "<s> in </s>", "[CLS]x[SEP]",
           "👩‍👩‍👧 🏳️‍🌈", "日本語 のテキスト", "e\u0301 \u3000 x", " xyz here", "\u3000jp", "a\x1cq b",
           "def f(x):\n    return x  # ok"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    lines = "".join(held_out_texts(40_000)).splitlines(keepends=True)
    return ["".join(lines[i : i + 6]) for i in range(0, 6 * 25, 6)] + AWKWARD


@pytest.mark.parametrize("name", list(PROCESSORS))
@pytest.mark.parametrize("kind", ["bpe", "wordpiece"])
def test_processor_matches_the_library_on_stdlib_text_single_and_pair(base, texts, kind, name):
    for i, text in enumerate(texts):
        for add in (True, False):
            assert_same(base[kind], PROCESSORS[name], text, None, add)
            assert_same(base[kind], PROCESSORS[name], text, texts[i - 3], add)


@pytest.mark.parametrize("name", list(PROCESSORS))
def test_processor_matches_the_library_on_pretokenized_words(base, name):
    words = [["  two", "Ġ", " a", "b  "], ["x"], [" ", "é"]]
    for add in (True, False):
        assert_same(base["bpe"], PROCESSORS[name], words[0], words[1], add, is_pretokenized=True)
        assert_same(base["bpe"], PROCESSORS[name], words[2], None, add, is_pretokenized=True)


@pytest.mark.parametrize("name", list(PROCESSORS))
def test_added_tokens_is_the_library_num_special_tokens_to_add(base, name):
    tok = tokenizer(base["bpe"], PROCESSORS[name])
    proc = build_post_processor(PROCESSORS[name])

    assert [proc.added_tokens(False), proc.added_tokens(True)] == [
        tok.num_special_tokens_to_add(False), tok.num_special_tokens_to_add(True)]


def _truncation_lengths(n1: int, n2: int, max_len: int) -> tuple[int, int]:
    """The library's longest_first split of ``max_len`` between the two sequences."""
    swap = n1 > n2
    if swap:
        n1, n2 = n2, n1
    n2 = n1 if n1 > max_len else max(n1, max_len - n1)
    if n1 + n2 > max_len:
        n1, n2 = max_len // 2, max_len // 2 + max_len % 2
    return (n2, n1) if swap else (n1, n2)


@pytest.mark.parametrize("name", ["bytelevel-trim1-prefix1", "roberta-trim1-prefix1", "bert", "template-odd",
                                  "sequence-template-then-bytelevel", "sequence-llama3", "sequence-odd-twice"])
@pytest.mark.parametrize("add", [True, False])
def test_overflowing_parts_are_processed_and_combined_like_the_library(base, texts, name, add):
    spec, proc_spec = base["bpe"], PROCESSORS[name]
    proc, bare = build_post_processor(proc_spec), tokenizer(base["bpe"], None)
    for a, b in [(texts[0], None), (texts[1][:150], texts[2][:150]), (texts[3][:60], texts[4])]:
        lib = fresh_tokenizer(spec, proc_spec)
        lib.enable_truncation(24 + proc.added_tokens(b is not None), stride=3)
        expected = lib.encode(a, b, add_special_tokens=add)
        first, second = bare.encode(a, add_special_tokens=False), b and bare.encode(b, add_special_tokens=False)
        room = 24 + proc.added_tokens(b is not None) - (proc.added_tokens(b is not None) if add else 0)
        if second is None:
            first.truncate(room, stride=3)
        else:
            n1, n2 = _truncation_lengths(len(first.ids), len(second.ids), room)
            first.truncate(n1, stride=3)
            second.truncate(n2, stride=3)
        ours = proc.process(pure(first, 0), second and pure(second, 1), add)

        assert expected.overflowing and fields(ours) == fields(expected)


awkward_text = st.lists(st.one_of(st.sampled_from(AWKWARD), st.text(max_size=12)), max_size=4).map("".join)


@settings(max_examples=300, deadline=None)
@given(a=awkward_text, b=st.none() | awkward_text, name=st.sampled_from(sorted(PROCESSORS)), add=st.booleans(),
       kind=st.sampled_from(["bpe", "wordpiece"]))
def test_processors_match_the_library_on_generated_text(base, a, b, name, add, kind):
    assert_same(base[kind], PROCESSORS[name], a, b, add)


def test_no_post_processor_appends_the_pair_like_the_library(base):
    bare = tokenizer(base["bpe"], None)
    a, b = bare.encode("hello there", add_special_tokens=False), bare.encode("  pair", add_special_tokens=False)

    assert fields(default_process(pure(a, 0), pure(b, 1))) == fields(bare.encode("hello there", "  pair"))
    assert fields(default_process(pure(a, 0))) == fields(bare.encode("hello there"))
    assert build_post_processor(None) is None


@pytest.mark.parametrize("spec", [
    {"type": "Nope"},
    {"type": "ByteLevel", "trim_offsets": True},
    {"type": "BertProcessing", "sep": ["[SEP]", -1], "cls": ["[CLS]", 2]},
    {"type": "RobertaProcessing", "sep": ["</s>"], "cls": ["<s>", 0]},
    {**BERT_TEMPLATE, "single": "[CLS] $A [SEP]"},
    {**BERT_TEMPLATE, "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2, 3], "tokens": ["[CLS]"]}}},
    {"type": "Sequence", "processors": [BERT, {"type": "Nope"}]},
])
def test_unsupported_or_invalid_processors_raise(spec):
    with pytest.raises(UnsupportedComponentError):
        build_post_processor(spec)


def test_template_with_an_unknown_special_token_raises_where_the_library_panics(base):
    spec = {**BERT_TEMPLATE, "special_tokens": {}}
    proc = build_post_processor(spec)
    assert_same(base["bpe"], spec, "fine without special tokens", "pair", False)

    with pytest.raises(UnsupportedComponentError):
        proc.process(PureEncoding(ids=[5], tokens=["x"], offsets=[(0, 1)]), None, True)
