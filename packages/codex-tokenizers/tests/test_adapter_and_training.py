"""Training, the adapter over the library, and the registered components."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from codex_core.context import BuildContext
from codex_core.errors import CodexError, ComponentError
from codex_tokenizers import TokenizerFileError, load, resolve_backend, train


def test_training_writes_a_tokenizer_json_with_the_default_specials_first(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("def add(a, b):\n    return a + b\n" * 50)

    tok = train("bpe", vocab_size=300, inputs=[str(corpus)], output=tmp_path / "t.json")

    spec = json.loads((tmp_path / "t.json").read_text())
    assert [t["content"] for t in spec["added_tokens"]] == ["<|endoftext|>", "<|pad|>"]
    assert tok.special_tokens == {"bos": 0, "eos": 0, "pad": 1}
    assert tok.decode(tok.encode("return a + b").ids) == "return a + b"


def test_the_fingerprint_is_stable_across_save_and_engines(trained, tmp_path):
    rust = load(trained["bpe"], backend="rust")

    saved = rust.save(tmp_path)

    assert load(saved, backend="rust").fingerprint() == rust.fingerprint()
    assert load(tmp_path, backend="rust").fingerprint() == rust.fingerprint()


def test_wordpiece_gets_the_bert_template(trained):
    tok = load(trained["wordpiece"], backend="rust")

    enc = tok.encode("hello world")

    assert enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]"
    assert enc.offsets[0] == (0, 0)


def test_padding_and_truncation_through_the_adapter(trained):
    tok = load(trained["bpe"], backend="rust")
    tok.enable_truncation(4)
    tok.enable_padding(length=6)

    enc = tok.encode("def function_with_a_long_name(argument): return argument")

    assert enc.ids[4:] == [tok.special_tokens["pad"]] * 2
    assert enc.attention_mask == [1, 1, 1, 1, 0, 0]


@pytest.mark.parametrize(("content", "message"), [
    (None, "not found"),
    ("{not json", "is not valid JSON"),
    ('{"version": "1.0"}', "is not a tokenizer.json"),
])
def test_bad_tokenizer_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "tokenizer.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(TokenizerFileError, match=message):
        load(path, backend="rust")


def test_an_unknown_backend_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CODEX_TOKENIZER_BACKEND", "cuda")

    with pytest.raises(CodexError, match=r"unknown tokenizer backend 'cuda' \(CODEX_TOKENIZER_BACKEND=cuda\)"):
        resolve_backend("auto")


def test_the_environment_picks_the_engine_for_auto(monkeypatch, trained):
    monkeypatch.setenv("CODEX_TOKENIZER_BACKEND", "python")

    assert load(trained["bpe"]).backend == "python"


def test_a_trained_component_is_cached_by_its_params_and_data(codex_installed_registry, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("for i in range(10):\n    print(i)\n" * 40)
    context = BuildContext(registry=codex_installed_registry, cache_dir=tmp_path / "cache")
    params = {"vocab_size": 280, "dataset": "text", "dataset_params": {"paths": [str(tmp_path / "data")]}}

    first = codex_installed_registry.build("tokenizer", "bpe", params, context=context)
    cached = sorted((tmp_path / "cache" / "tokenizers").glob("*.json"))
    again = codex_installed_registry.build("tokenizer", "bpe", params, context=context)
    (tmp_path / "data" / "a.txt").write_text("while True:\n    break\n" * 40)
    changed = codex_installed_registry.build("tokenizer", "bpe", params, context=context)

    assert len(cached) == 1
    assert again.fingerprint() == first.fingerprint()
    assert changed.fingerprint() != first.fingerprint()
    assert len(list((tmp_path / "cache" / "tokenizers").glob("*.json"))) == 2


def test_a_component_trained_on_files_is_cached_by_each_files_sha256(codex_installed_registry, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("def add(a, b):\n    return a + b\n" * 40)
    context = BuildContext(registry=codex_installed_registry, cache_dir=tmp_path / "cache")
    params = {"vocab_size": 280, "files": [str(corpus)]}

    first = codex_installed_registry.build("tokenizer", "bpe", params, context=context)
    corpus.touch()  # same bytes, newer file: still the cached tokenizer
    again = codex_installed_registry.build("tokenizer", "bpe", params, context=context)
    corpus.write_text("while True:\n    break\n" * 40)
    changed = codex_installed_registry.build("tokenizer", "bpe", params, context=context)

    assert again.fingerprint() == first.fingerprint() != changed.fingerprint()
    assert len(list((tmp_path / "cache" / "tokenizers").glob("*.json"))) == 2


def test_a_trained_component_needs_exactly_one_source(codex_installed_registry):
    with pytest.raises(ComponentError, match="exactly one of 'files' and 'dataset'"):
        codex_installed_registry.build("tokenizer", "bpe", {"vocab_size": 100})


def test_the_tokenizer_json_component_loads_a_file(codex_installed_registry, trained):
    tok = codex_installed_registry.build("tokenizer", "hf", {"path": str(trained["unigram"]), "backend": "rust"})

    assert tok.backend == "rust" and tok.vocab_size == load(trained["unigram"], "rust").vocab_size


@pytest.mark.parametrize("backend", ["rust", "python"])
def test_a_bos_eos_template_wraps_every_text(tmp_path, backend):
    out = tmp_path / "uni.json"
    train("unigram", vocab_size=120, texts=["the quick brown fox jumps over the lazy dog\n"] * 40,
          template="bos-eos", output=out)
    tok = load(out, backend=backend)

    enc = tok.encode("the fox")

    assert (enc.tokens[0], enc.tokens[-1]) == ("<s>", "</s>")
    assert tok.encode("the fox", add_special_tokens=False).tokens == enc.tokens[1:-1]


def test_a_template_without_its_special_tokens_is_a_clear_error(tmp_path):
    with pytest.raises(CodexError, match="the template needs a cls special token"):
        train("bpe", vocab_size=300, texts=["abc"] * 10, template="cls-sep", output=tmp_path / "x.json")


def test_the_public_train_stays_the_function_after_a_trained_tokenizer_is_built(tmp_path):
    # Building a trained tokenizer through the registry imports the training module; the
    # package's documented `codex_tokenizers.train(...)` must still be the function then.
    code = textwrap.dedent(f"""
        import pathlib
        import codex_tokenizers
        from codex_core.context import BuildContext
        from codex_core.plugins import get_plugin_manager
        registry = get_plugin_manager().registry
        context = BuildContext(registry=registry, cache_dir=pathlib.Path({str(tmp_path)!r}))
        registry.build("tokenizer", "bpe", {{"vocab_size": 300, "files": [{str(tmp_path / "a.txt")!r}]}},
                       context=context)
        tok = codex_tokenizers.train("bpe", vocab_size=300, texts=["def f(x): return x\\n"] * 20)
        print(type(tok).__name__)
    """)
    (tmp_path / "a.txt").write_text("def f(x):\n    return x\n" * 50, encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "CodexTokenizer"
