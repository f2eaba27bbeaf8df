"""The model directory: what codex writes, ``transformers`` and ``peft`` load offline with the
same logits and token ids, and codex loads back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codex_core.errors import CodexError
from codex_models import GPT2Params, LlamaParams, build_gpt2, build_llama
from codex_models.models.lora import apply_lora, is_lora
from codex_models.models.model_dir import load_model_dir, read_summary, save_model_dir
from codex_models.models.params import LoRAParams

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

SAMPLES = ["def add(a, b):\n    return a + b\n", "Grüße aus Köln — naïve café, 東京 🚀", "  spaces\tand\ttabs  "]
GPT2 = {"n_layer": 2, "n_embd": 32, "n_head": 2, "n_positions": 64}
LLAMA = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "num_key_value_heads": 1,
         "intermediate_size": 64, "max_position_embeddings": 64}


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    """A byte-level BPE (vocab up to 400) trained on generated code and prose, non-ASCII included."""
    from codex_tokenizers.training import train

    words = ["return", "def", "class", "value", "Köln", "café", "東京", "naïve", "self", "print"]
    texts = [f"def f{i}(x):\n    return {words[i % 10]} + {words[(i * 7) % 10]} * {i}\n" for i in range(300)]
    return train("bpe", vocab_size=400, texts=texts)


def gpt2(tokenizer: Any, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return build_gpt2(GPT2Params(**GPT2, vocab_size=tokenizer.vocab_size)).eval()


def llama(tokenizer: Any, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return build_llama(LlamaParams(**LLAMA, vocab_size=tokenizer.vocab_size)).eval()


def ids(tokenizer: Any) -> Any:
    return torch.tensor([tokenizer.encode(SAMPLES[1]).ids])


def logits(model: Any, input_ids: Any) -> Any:
    with torch.no_grad():
        return model(input_ids=input_ids).logits


def with_trained_adapter(model: Any) -> Any:
    """LoRA on ``model`` with B drawn at random, so the adapter changes the logits."""
    lora = apply_lora(model, LoRAParams(r=4, alpha=8))
    with torch.no_grad():
        for name, param in lora.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.5)
    return lora.eval()


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_transformers_loads_the_directory_offline_with_equal_logits(tokenizer: Any, family: str,
                                                                     tmp_path: Path) -> None:
    model = gpt2(tokenizer) if family == "gpt2" else llama(tokenizer)
    out = save_model_dir(model, tokenizer, tmp_path / "model")

    loaded = transformers.AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()

    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
         "README.md"])
    torch.testing.assert_close(logits(loaded, ids(tokenizer)), logits(model, ids(tokenizer)), atol=1e-6, rtol=0)


def test_gpt2_lm_head_stays_tied_to_the_token_embeddings(tokenizer: Any, tmp_path: Path) -> None:
    out = save_model_dir(gpt2(tokenizer), tokenizer, tmp_path / "model")

    loaded = transformers.AutoModelForCausalLM.from_pretrained(out, local_files_only=True)

    assert loaded.lm_head.weight.data_ptr() == loaded.transformer.wte.weight.data_ptr()


def test_auto_tokenizer_gives_the_codex_ids_and_special_tokens(tokenizer: Any, tmp_path: Path) -> None:
    out = save_model_dir(gpt2(tokenizer), tokenizer, tmp_path / "model")

    auto = transformers.AutoTokenizer.from_pretrained(out, local_files_only=True)

    assert [auto(text)["input_ids"] for text in SAMPLES] == [tokenizer.encode(text).ids for text in SAMPLES]
    assert (auto.bos_token, auto.eos_token, auto.pad_token, auto.model_max_length) == (
        "<|endoftext|>", "<|endoftext|>", "<|pad|>", 64)
    assert auto.decode(auto(SAMPLES[1])["input_ids"]) == SAMPLES[1]


def test_generation_config_takes_bos_eos_pad_from_the_tokenizer(tokenizer: Any, tmp_path: Path) -> None:
    out = save_model_dir(llama(tokenizer), tokenizer, tmp_path / "model")

    config = transformers.GenerationConfig.from_pretrained(out, local_files_only=True)

    specials = tokenizer.special_tokens
    assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (
        specials["bos"], specials["eos"], specials["pad"])


def test_load_model_dir_round_trips_model_and_tokenizer(tokenizer: Any, tmp_path: Path) -> None:
    model = llama(tokenizer)
    out = save_model_dir(model, tokenizer, tmp_path / "model")

    loaded, loaded_tokenizer = load_model_dir(out)

    assert loaded_tokenizer.fingerprint() == tokenizer.fingerprint()
    torch.testing.assert_close(logits(loaded, ids(tokenizer)), logits(model, ids(tokenizer)), atol=0, rtol=0)


def test_the_model_card_records_the_training_summary(tokenizer: Any, tmp_path: Path) -> None:
    summary = {"steps": 120, "tokens": 61440, "train_loss": 2.5, "val_loss": 2.75}
    out = save_model_dir(gpt2(tokenizer), tokenizer, tmp_path / "model", summary=summary)

    card = (out / "README.md").read_text()

    assert read_summary(out) == summary
    assert "| architecture | GPT2LMHeadModel |" in card and f"| tokenizer vocabulary | {tokenizer.vocab_size} |" in card
    assert "| val_loss | 2.75 |" in card


def test_a_lora_model_is_merged_by_default_and_keeps_its_adapters(tokenizer: Any, tmp_path: Path) -> None:
    model = with_trained_adapter(gpt2(tokenizer))
    out = save_model_dir(model, tokenizer, tmp_path / "merged")

    loaded = transformers.AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()

    assert is_lora(model) and not (out / "adapter").exists()
    torch.testing.assert_close(logits(loaded, ids(tokenizer)), logits(model, ids(tokenizer)), atol=1e-5, rtol=0)


def test_adapter_only_writes_a_peft_adapter_that_loads_onto_the_base(tokenizer: Any, tmp_path: Path) -> None:
    model = with_trained_adapter(llama(tokenizer))
    out = save_model_dir(model, tokenizer, tmp_path / "adapter", adapter_only=True)

    loaded = peft.PeftModel.from_pretrained(llama(tokenizer), out).eval()

    assert not (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    torch.testing.assert_close(logits(loaded, ids(tokenizer)), logits(model, ids(tokenizer)), atol=0, rtol=0)


def test_merge_false_writes_base_weights_plus_adapter_dir(tokenizer: Any, tmp_path: Path) -> None:
    model = with_trained_adapter(gpt2(tokenizer))
    out = save_model_dir(model, tokenizer, tmp_path / "checkpoint", merge=False)

    base = transformers.AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    loaded, _ = load_model_dir(out)

    assert sorted(p.name for p in (out / "adapter").iterdir() if p.suffix != ".md") == [
        "adapter_config.json", "adapter_model.safetensors"]
    torch.testing.assert_close(logits(base, ids(tokenizer)), logits(gpt2(tokenizer), ids(tokenizer)), atol=0, rtol=0)
    assert is_lora(loaded)
    torch.testing.assert_close(logits(loaded, ids(tokenizer)), logits(model, ids(tokenizer)), atol=0, rtol=0)


def test_the_char_tokenizer_is_converted_to_an_equivalent_tokenizer_json(tmp_path: Path) -> None:
    from codex_tokenizers.char import CharTokenizer
    from codex_tokenizers.params import CharTokenizerParams

    char = CharTokenizer(CharTokenizerParams(add_bos=True))
    out = save_model_dir(gpt2(char), char, tmp_path / "model")

    auto = transformers.AutoTokenizer.from_pretrained(out, local_files_only=True)
    _, loaded = load_model_dir(out)

    texts = [*SAMPLES, "line one\nline two\r\n\x0b"]
    assert [auto(text)["input_ids"] for text in texts] == [char.encode(text).ids for text in texts]
    assert [loaded.encode(text).ids for text in texts] == [char.encode(text).ids for text in texts]
    assert loaded.special_tokens == char.special_tokens


def test_an_existing_non_empty_output_is_refused_and_left_alone(tokenizer: Any, tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")

    with pytest.raises(CodexError, match="already exists and is not an empty directory"):
        save_model_dir(gpt2(tokenizer), tokenizer, out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary directory left behind


def test_adapter_only_of_a_plain_model_is_an_error(tokenizer: Any, tmp_path: Path) -> None:
    with pytest.raises(CodexError, match="adapter_only needs a model with LoRA adapters"):
        save_model_dir(gpt2(tokenizer), tokenizer, tmp_path / "model", adapter_only=True)
    assert not (tmp_path / "model").exists()


@pytest.fixture
def saved(tokenizer: Any, tmp_path: Path) -> Path:
    return save_model_dir(gpt2(tokenizer), tokenizer, tmp_path / "model")


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: d.joinpath("config.json").unlink(), "has no config.json"),
        (lambda d: d.joinpath("config.json").write_text("{not json"), "cannot read .*config.json"),
        (lambda d: d.joinpath("model.safetensors").unlink(), "has no model.safetensors"),
        (lambda d: d.joinpath("model.safetensors").rename(d / "pytorch_model.bin"), "safetensors weights only"),
        (lambda d: d.joinpath("tokenizer.json").unlink(), "has no tokenizer.json"),
    ],
    ids=["no-config", "bad-config", "no-weights", "pickled-weights", "no-tokenizer"],
)
def test_load_model_dir_errors_are_one_line(saved: Path, breakage: Any, message: str) -> None:
    breakage(saved)

    with pytest.raises(CodexError, match=message) as info:
        load_model_dir(saved)
    assert "\n" not in str(info.value)


def test_load_model_dir_of_a_file_or_missing_path_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")

    with pytest.raises(CodexError, match="is not a directory"):
        load_model_dir(tmp_path / "file")
    with pytest.raises(CodexError, match="does not exist"):
        load_model_dir(tmp_path / "missing")


def test_load_model_dir_of_an_adapter_only_directory_says_so(tokenizer: Any, tmp_path: Path) -> None:
    out = save_model_dir(with_trained_adapter(gpt2(tokenizer)), tokenizer, tmp_path / "adapter", adapter_only=True)

    with pytest.raises(CodexError, match="holds a LoRA adapter only"):
        load_model_dir(out)


def test_without_the_tokenizer_json_component_the_error_names_the_package(saved: Path) -> None:
    from codex_core.registry import Registry

    with pytest.raises(CodexError, match="pip install codex-tokenizers"):
        load_model_dir(saved, registry=Registry())


def test_config_json_and_weights_are_what_transformers_wrote(saved: Path) -> None:
    config = json.loads((saved / "config.json").read_text())

    assert config["model_type"] == "gpt2" and config["tie_word_embeddings"] is True
