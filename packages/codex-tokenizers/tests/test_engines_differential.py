"""Differential tests: the pure-Python engine against the Rust library, on held-out text
(>= 1 MB of Python stdlib source, docstrings and comments) and on generated strings."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizer_corpus import held_out_texts

from codex_tokenizers import load

KINDS = ("bpe", "wordpiece", "unigram")


def test_the_held_out_text_is_at_least_a_megabyte():
    assert sum(len(t.encode("utf-8")) for t in held_out_texts()) >= 1_000_000


@pytest.mark.parametrize("kind", KINDS)
def test_both_engines_agree_on_held_out_stdlib_text(engines, kind):
    rust, python = engines[kind]
    mismatches = []

    for i, text in enumerate(held_out_texts()):
        r, p = rust.encode(text), python.encode(text)
        if (r.ids, r.tokens, r.offsets) != (p.ids, p.tokens, p.offsets) or rust.decode(r.ids) != python.decode(p.ids):
            mismatches.append(i)

    assert mismatches == []


# Text a tokenizer meets in the wild, and the awkward cases.
awkward = st.one_of(
    st.text(max_size=80),
    st.text(st.characters(codec="utf-8"), max_size=80),
    st.sampled_from(["👩‍👩‍👧", "🏳️‍🌈", "👍🏽", "e\u0301", "ñ", "Å", "한국어", "日本語のテキスト", "中文，标点。",
                     "ﬁ ligature", "\x00\x01\x1b[0m", "\t\t  \n\n   ", "a" * 300, "x" * 1000 + "y",
                     "def f(x):\n    return x  # ok", "\u200b\u200d\ufeff", "İstanbul", "ß", "Ⅻ ½ ²"]),
).map(str)
mixed = st.lists(awkward, min_size=1, max_size=4).map("".join)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mixed)
def test_both_engines_agree_on_generated_text(engines, kind, text):
    rust, python = engines[kind]

    r, p = rust.encode(text), python.encode(text)

    assert (p.ids, p.tokens, p.offsets, p.attention_mask) == (r.ids, r.tokens, r.offsets, r.attention_mask)
    assert python.decode(p.ids) == rust.decode(r.ids)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mixed)
def test_byte_level_bpe_round_trips_any_text(engines, text):
    rust, python = engines["bpe"]

    assert python.decode(python.encode(text).ids) == text
    assert rust.decode(rust.encode(text).ids) == text


@pytest.mark.parametrize("backend", ["rust", "python"])
def test_a_lone_surrogate_is_rejected_clearly(trained, backend):
    from codex_core.errors import CodexError

    tok = load(trained["bpe"], backend=backend)

    with pytest.raises(CodexError, match=r"lone surrogate '\\ud800' at position 3"):
        tok.encode("abc\ud800def")
    with pytest.raises(CodexError, match=r"lone surrogate '\\udc00' at position 0"):
        tok.encode_batch(["fine", "\udc00"])


def test_added_tokens_with_strip_options_agree(trained, tmp_path):
    from tokenizers import AddedToken, Tokenizer

    library = Tokenizer.from_file(str(trained["bpe"]))
    library.add_tokens([AddedToken("<mask>", lstrip=True, rstrip=True), AddedToken("TODO", single_word=True)])
    library.add_special_tokens(["<|fim|>"])
    path = tmp_path / "added.json"
    library.save(str(path))
    rust, python = load(path, backend="rust"), load(path, backend="python")
    text = "x = a  <mask>  b  # TODO: fix<|fim|>TODOs and xTODO"

    r, p = rust.encode(text), python.encode(text)

    assert (p.ids, p.tokens, p.offsets) == (r.ids, r.tokens, r.offsets)
    assert python.decode(p.ids) == rust.decode(r.ids)


def test_text_with_code_points_whose_unicode_data_differs_still_agrees(engines):
    from codex_tokenizers.pure import _unicode_data as data

    overridden = sorted(data.ONIG_CATEGORY_OVERRIDES)[:20]
    odd = ["\u0558", "\u088f", "\U00011b60", *(chr(cp) for cp in overridden)]
    texts = [f"word{c}word {c}x 12{c}3 ü{c}" for c in odd]

    for kind in KINDS:
        rust, python = engines[kind]
        for text in texts:
            r, p = rust.encode(text), python.encode(text)
            assert (p.ids, p.tokens, p.offsets) == (r.ids, r.tokens, r.offsets), (kind, text)
