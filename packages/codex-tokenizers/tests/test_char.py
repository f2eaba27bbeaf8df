"""The ``char`` tokenizer, built through the registry like codex builds it."""

from __future__ import annotations

import functools
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import codex_tokenizers.plugin
from codex_core.errors import CodexError
from codex_core.plugins import PluginManager
from codex_core.protocols import Tokenizer
from codex_core.registry import Registry
from codex_tokenizers import DEFAULT_ALPHABET, CharTokenizer


@pytest.fixture
def char(codex_installed_registry: Registry) -> CharTokenizer:
    return codex_installed_registry.build("tokenizer", "char")


def test_char_implements_the_tokenizer_protocol(char: CharTokenizer) -> None:
    assert isinstance(char, Tokenizer)


def test_default_vocab_is_four_specials_plus_string_printable(char: CharTokenizer) -> None:
    assert char.vocab[4:] == list(string.printable)


def test_default_vocab_size_is_104(char: CharTokenizer) -> None:
    assert char.vocab_size == 104


def test_special_token_ids(char: CharTokenizer) -> None:
    assert char.special_tokens == {"pad": 0, "bos": 1, "eos": 2, "unk": 3}


def test_round_trip_replaces_unknown_characters_with_unk(char: CharTokenizer) -> None:
    ids = char.encode("café ☕\n").ids
    assert char.decode(ids) == "caf<unk> <unk>\n"


def test_decode_can_skip_special_tokens(char: CharTokenizer) -> None:
    ids = char.encode("naïve").ids
    assert char.decode(ids, skip_special_tokens=True) == "nave"


def test_known_text_round_trips_exactly(char: CharTokenizer) -> None:
    text = "def f(x):\n\treturn x ** 2  # ok\r\n"
    assert char.decode(char.encode(text).ids) == text


def test_bos_and_eos_are_added_with_empty_offsets(codex_installed_registry: Registry) -> None:
    tok = codex_installed_registry.build("tokenizer", "char", {"add_bos": True, "add_eos": True})
    encoding = tok.encode("hi")
    assert (encoding.ids[0], encoding.ids[-1], encoding.offsets) == (1, 2, [(0, 0), (0, 1), (1, 2), (0, 0)])


def test_offsets_point_back_into_the_text(char: CharTokenizer) -> None:
    text = "x = ü"
    encoding = char.encode(text)
    assert [text[a:b] for a, b in encoding.offsets] == list(text)


def test_unknown_character_token_is_unk(char: CharTokenizer) -> None:
    assert char.encode("aπ").tokens == ["a", "<unk>"]


def test_attention_mask_is_all_ones(char: CharTokenizer) -> None:
    assert char.encode("abc").attention_mask == [1, 1, 1]


def test_encode_batch_does_not_pad(char: CharTokenizer) -> None:
    assert [len(e) for e in char.encode_batch(["a", "abc", ""])] == [1, 3, 0]


def test_decode_batch(char: CharTokenizer) -> None:
    batch = [e.ids for e in char.encode_batch(["one", "two"])]
    assert char.decode_batch(batch) == ["one", "two"]


def test_decoding_an_unknown_id_is_a_value_error(char: CharTokenizer) -> None:
    with pytest.raises(ValueError, match="token id 104 is not in"):
        char.decode([5, 104])


def test_custom_alphabet_sets_ids_in_order(codex_installed_registry: Registry) -> None:
    tok = codex_installed_registry.build("tokenizer", "char", {"alphabet": "ab"})
    assert tok.encode("abc").ids == [4, 5, 3]


def test_repeated_alphabet_characters_are_rejected(codex_installed_registry: Registry) -> None:
    with pytest.raises(CodexError, match="repeats characters: 'a'"):
        codex_installed_registry.build("tokenizer", "char", {"alphabet": "aba"})


def test_unknown_param_is_rejected_naming_the_key(codex_installed_registry: Registry) -> None:
    with pytest.raises(CodexError, match="add_bso"):
        codex_installed_registry.build("tokenizer", "char", {"add_bso": True})


def test_save_then_load_gives_the_same_fingerprint(char: CharTokenizer, tmp_path: Path) -> None:
    path = char.save(tmp_path)
    assert CharTokenizer.load(path).fingerprint() == char.fingerprint()


def test_save_writes_char_tokenizer_json(char: CharTokenizer, tmp_path: Path) -> None:
    assert char.save(tmp_path) == tmp_path / "char_tokenizer.json"


def test_load_from_the_directory_restores_settings(codex_installed_registry: Registry, tmp_path: Path) -> None:
    tok = codex_installed_registry.build("tokenizer", "char", {"alphabet": "xyz", "add_eos": True})
    tok.save(tmp_path)
    assert CharTokenizer.load(tmp_path).encode("zx").ids == tok.encode("zx").ids


def test_fingerprint_depends_on_settings(codex_installed_registry: Registry) -> None:
    plain = codex_installed_registry.build("tokenizer", "char")
    with_bos = codex_installed_registry.build("tokenizer", "char", {"add_bos": True})
    assert plain.fingerprint() != with_bos.fingerprint()


def test_fingerprint_is_stable_across_instances(codex_installed_registry: Registry) -> None:
    first = codex_installed_registry.build("tokenizer", "char")
    assert codex_installed_registry.build("tokenizer", "char").fingerprint() == first.fingerprint()


def test_registered_through_the_test_fixtures(register_codex_plugin, codex_registry: Registry) -> None:
    register_codex_plugin(codex_tokenizers.plugin, name="tokenizers")
    tok = codex_registry.build("tokenizer", "char", {"alphabet": "hi"})
    assert tok.decode(tok.encode("hi!").ids) == "hi<unk>"


@functools.cache
def default_char() -> CharTokenizer:
    return PluginManager().registry.build("tokenizer", "char")


@given(st.text(alphabet=DEFAULT_ALPHABET))
def test_any_text_over_the_alphabet_round_trips(text: str) -> None:
    assert default_char().decode(default_char().encode(text).ids) == text


@given(st.text())
def test_any_text_encodes_to_one_id_per_character(text: str) -> None:
    assert len(default_char().encode(text)) == len(text)


@pytest.mark.parametrize(("add_bos", "add_eos"), [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("backend", ["python", "rust"])
def test_its_tokenizer_json_gives_the_same_ids_on_both_engines(tmp_path: Path, add_bos: bool, add_eos: bool,
                                                               backend: str) -> None:
    """What a model directory holds for a char tokenizer (written without the `tokenizers`
    library) loads on either engine and encodes exactly as the char tokenizer does."""
    from codex_tokenizers.engine import load
    from codex_tokenizers.params import CharTokenizerParams

    if backend == "rust":
        pytest.importorskip("tokenizers")
    char = CharTokenizer(CharTokenizerParams(add_bos=add_bos, add_eos=add_eos))
    path = char.save_tokenizer_json(tmp_path)
    assert path.name == "tokenizer.json"
    loaded = load(path, backend=backend)
    for text in ["def f(x):\n\treturn x + 1\n", "naïve café ✓ 日本 😀", "", "  \x0b\x0c"]:
        assert loaded.encode(text).ids == char.encode(text).ids, text
    assert loaded.special_tokens == char.special_tokens
    assert loaded.vocab_size == char.vocab_size
