"""GPT-2-, BERT- and Llama-style tokenizer.json files (the pipelines those models ship,
built here on trained vocabularies) give the same results on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizer_corpus import held_out_texts

from codex_tokenizers import load


def _llama_style(bpe_spec: dict) -> dict:
    """SentencePiece-converted BPE as Llama ships it: byte-fallback tokens <0x00>..<0xFF>
    right after <unk> <s> </s>, spaces as '▁' by normalizer, a ByteFallback decoder."""
    vocab = bpe_spec["model"]["vocab"]
    specials = ["<unk>", "<s>", "</s>"]
    rest = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1]) if t not in specials]
    tokens = specials + [f"<0x{b:02X}>" for b in range(256)] + [t for t in rest if not t.startswith("<0x")]
    spec = json.loads(json.dumps(bpe_spec))
    spec["model"].update(vocab={t: i for i, t in enumerate(tokens)}, byte_fallback=True, fuse_unk=True,
                         unk_token="<unk>")
    spec["added_tokens"] = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True} for i, t in enumerate(specials)]
    spec["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
    spec["pre_tokenizer"] = None
    spec["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
    }
    spec["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
        {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    return spec


@pytest.fixture(scope="module")
def styled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from codex_tokenizers.training import train

    out = tmp_path_factory.mktemp("styles")
    texts = held_out_texts()[200:400]  # a vocabulary of its own; evaluated on other text below
    train("bpe", vocab_size=1500, texts=texts, special_tokens=["<unk>", "<s>", "</s>"], output=out / "sp.json")
    train("wordpiece", vocab_size=1500, texts=texts, output=out / "wp.json")
    train("bpe", vocab_size=1500, texts=texts, output=out / "bl.json")

    llama = _llama_style(json.loads((out / "sp.json").read_text()))
    bert = json.loads((out / "wp.json").read_text())
    bert["normalizer"] = {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                          "strip_accents": None, "lowercase": True}
    bert["post_processor"] = {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}
    gpt2 = json.loads((out / "bl.json").read_text())
    gpt2["post_processor"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                              "use_regex": True}
    gpt2["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                             "use_regex": True}
    files = {}
    for name, spec in (("llama", llama), ("bert", bert), ("gpt2", gpt2)):
        files[name] = out / f"{name}.json"
        files[name].write_text(json.dumps(spec, ensure_ascii=False))
    return files


STYLES = ("llama", "bert", "gpt2")


@pytest.mark.parametrize("style", STYLES)
def test_each_style_agrees_on_held_out_text(styled, style):
    rust, python = load(styled[style], "rust"), load(styled[style], "python")
    texts = held_out_texts()[:200]

    for text in texts:
        r, p = rust.encode(text), python.encode(text)
        assert (p.ids, p.tokens, p.offsets) == (r.ids, r.tokens, r.offsets)
        assert python.decode(p.ids) == rust.decode(r.ids)
        assert python.decode(p.ids, skip_special_tokens=False) == rust.decode(r.ids, skip_special_tokens=False)


@pytest.mark.parametrize("style", STYLES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60), pair=st.one_of(st.none(), st.text(max_size=30)))
def test_each_style_agrees_on_generated_text_and_pairs(styled, style, text, pair):
    rust, python = load(styled[style], "rust"), load(styled[style], "python")

    r, p = rust.encode(text, pair), python.encode(text, pair)

    assert (p.ids, p.tokens, p.offsets) == (r.ids, r.tokens, r.offsets)
    assert python.decode(p.ids) == rust.decode(r.ids)
