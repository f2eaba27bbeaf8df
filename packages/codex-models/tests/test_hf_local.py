"""The ``hf-local`` model: a local Hugging Face directory, built through the registry, with
its own tokenizer; never a hub download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codex_core.context import BuildContext
from codex_core.errors import CodexError, ComponentError
from codex_core.plugins import get_plugin_manager
from codex_models import LlamaParams, build_llama
from codex_models.models.hf_local import tokenizer_ref
from codex_models.models.lora import apply_lora, is_lora
from codex_models.models.model_dir import save_model_dir
from codex_models.models.params import LoRAParams

torch = pytest.importorskip("torch")

LLAMA = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "num_key_value_heads": 1,
         "intermediate_size": 64, "max_position_embeddings": 64}


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from codex_tokenizers.training import train

    texts = [f"for item in range({i}):\n    total += item * {i % 7}  # Größe {i}\n" for i in range(300)]
    return train("bpe", vocab_size=300, texts=texts)


@pytest.fixture(scope="module")
def hf_dir(tokenizer: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory as ``transformers`` writes it (save_pretrained) plus the tokenizer.json."""
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("hf") / "model"
    build_llama(LlamaParams(**LLAMA, vocab_size=tokenizer.vocab_size)).save_pretrained(directory)
    tokenizer.save(directory)
    return directory


def context(tokenizer: Any = None) -> BuildContext:
    return BuildContext(registry=get_plugin_manager().registry, tokenizer=tokenizer)


def build(params: dict[str, Any], tokenizer: Any = None) -> Any:
    return context(tokenizer).build("model", "hf-local", params)


def train_step(model: Any, tokenizer: Any) -> dict[str, Any]:
    """One AdamW step on a sample; returns the trainable weights before the step."""
    ids = torch.tensor([tokenizer.encode("for item in range(3):\n    total += item\n").ids])
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    return trainable


def test_loads_a_save_pretrained_directory_with_its_own_tokenizer_and_trains(hf_dir: Path) -> None:
    ref = tokenizer_ref(hf_dir)  # what a run config's tokenizer section says
    tokenizer = context().build("tokenizer", ref["name"], ref["params"])
    model = build({"path": str(hf_dir)}, tokenizer)

    before = train_step(model, tokenizer)

    assert type(model).__name__ == "LlamaForCausalLM"
    assert all(not torch.equal(before[n], p) for n, p in model.named_parameters() if n in before)


def test_lora_params_train_only_the_adapters(hf_dir: Path, tokenizer: Any) -> None:
    model = build({"path": str(hf_dir), "lora": {"r": 4}}, tokenizer)

    before = train_step(model, tokenizer)

    assert is_lora(model) and before and all("lora_" in name for name in before)


def test_a_checkpoint_with_an_adapter_continues_training_it(tokenizer: Any, tmp_path: Path) -> None:
    torch.manual_seed(0)
    lora_model = apply_lora(build_llama(LlamaParams(**LLAMA, vocab_size=tokenizer.vocab_size)), LoRAParams(r=4))
    checkpoint = save_model_dir(lora_model, tokenizer, tmp_path / "checkpoint", merge=False)

    model = build({"path": str(checkpoint)}, tokenizer)

    assert is_lora(model)
    assert sorted(n for n, p in model.named_parameters() if p.requires_grad) == sorted(
        n for n, p in lora_model.named_parameters() if p.requires_grad)
    with pytest.raises(ComponentError, match="already has a LoRA adapter"):
        build({"path": str(checkpoint), "lora": {"r": 4}})


@pytest.mark.parametrize("name", ["gpt2", "meta-llama/Llama-3.2-1B", "no/such/dir"])
def test_a_missing_path_is_an_error_never_a_download(name: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # so a hub-like name is not accidentally a local directory

    with pytest.raises(ComponentError, match=r"does not exist .*nothing is downloaded from the hub"):
        build({"path": name})


def test_a_directory_without_weights_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')

    with pytest.raises(CodexError, match=r"has no model\.safetensors"):
        build({"path": str(tmp_path)})


def test_a_tokenizer_larger_than_the_embeddings_is_an_error(hf_dir: Path) -> None:
    from codex_tokenizers.training import train

    bigger = train("bpe", vocab_size=600, texts=[f"word{i} other{i * 3} x" for i in range(500)])
    assert bigger.vocab_size > 300

    with pytest.raises(ComponentError, match=r"the tokenizer has \d+ tokens but the model .* embeds only"):
        build({"path": str(hf_dir)}, bigger)


def test_dtype_and_device_are_applied(hf_dir: Path) -> None:
    model = build({"path": str(hf_dir), "dtype": "bf16", "device": "cpu"})

    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_a_model_directory_in_a_config_file_is_relative_to_that_file(hf_dir: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``model.params.path`` and the tokenizer's path in conf/run.yaml name conf/model, from
    any working directory; the model then builds from it."""
    import shutil

    from codex_core.config import load_config

    conf = tmp_path / "conf"
    shutil.copytree(hf_dir, conf / "model")
    (conf / "run.yaml").write_text(
        "model: {name: hf-local, params: {path: model}}\n"
        "tokenizer: {name: tokenizer-json, params: {path: model}}\n"
        "data: {name: text, params: {paths: [corpus.txt]}}\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_config("../conf/run.yaml").config

    assert config.model.params["path"] == str(conf / "model")
    assert config.tokenizer.params["path"] == str(conf / "model")
    model = get_plugin_manager().registry.build("model", config.model)
    assert sum(p.numel() for p in model.parameters()) > 0
