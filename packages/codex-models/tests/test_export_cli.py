"""``codex export`` run as a real subprocess: the output loads in ``transformers`` / ``peft``
with the source model's logits; errors are one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codex_models import GPT2Params, build_gpt2
from codex_models.models.lora import apply_lora
from codex_models.models.model_dir import read_summary, save_model_dir
from codex_models.models.params import LoRAParams

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

GPT2 = {"n_layer": 2, "n_embd": 32, "n_head": 2, "n_positions": 64}
SUMMARY = {"steps": 10, "tokens": 5120, "train_loss": 4.25}


def codex(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codex_core", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from codex_tokenizers.training import train

    return train("bpe", vocab_size=300, texts=[f"export {i} → Modell café {i * 3}\n" for i in range(300)])


@pytest.fixture(scope="module")
def sample(tokenizer: Any) -> Any:
    return torch.tensor([tokenizer.encode("export 7 → Modell café").ids])


def gpt2(tokenizer: Any) -> Any:
    torch.manual_seed(0)
    return build_gpt2(GPT2Params(**GPT2, vocab_size=tokenizer.vocab_size)).eval()


@pytest.fixture(scope="module")
def checkpoint(tokenizer: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A LoRA run's checkpoint (base weights + adapter/) and the LoRA model it holds."""
    model = apply_lora(gpt2(tokenizer), LoRAParams(r=4))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.5)
    path = save_model_dir(model.eval(), tokenizer, tmp_path_factory.mktemp("ck") / "step-10", merge=False,
                          summary=SUMMARY)
    return path, model


def logits(model: Any, ids: Any) -> Any:
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_export_model_writes_a_directory_transformers_loads(tokenizer: Any, sample: Any, tmp_path: Path) -> None:
    model = gpt2(tokenizer)
    source = save_model_dir(model, tokenizer, tmp_path / "source", summary=SUMMARY)

    result = codex("export", "--model", str(source), "-o", str(tmp_path / "out"), "--json")

    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["files"] == ["README.md", "config.json", "generation_config.json", "model.safetensors",
                             "tokenizer.json", "tokenizer_config.json"]
    assert info["params"] == sum(p.numel() for p in model.parameters()) and not info["merged"]
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out", local_files_only=True).eval()
    torch.testing.assert_close(logits(loaded, sample), logits(model, sample), atol=1e-6, rtol=0)
    assert read_summary(tmp_path / "out") == SUMMARY


def test_export_checkpoint_merges_the_lora_adapter(checkpoint: tuple[Path, Any], sample: Any, tmp_path: Path) -> None:
    path, lora_model = checkpoint

    result = codex("export", "--checkpoint", str(path), "-o", str(tmp_path / "out"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote model to {tmp_path / 'out'} (") and "LoRA merged" in result.stdout
    assert not (tmp_path / "out" / "adapter").exists()
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out", local_files_only=True).eval()
    torch.testing.assert_close(logits(loaded, sample), logits(lora_model, sample), atol=1e-5, rtol=0)


def test_export_adapter_only_writes_a_peft_adapter(checkpoint: tuple[Path, Any], tokenizer: Any, sample: Any,
                                                   tmp_path: Path) -> None:
    peft = pytest.importorskip("peft")
    path, lora_model = checkpoint

    result = codex("export", "--checkpoint", str(path), "-o", str(tmp_path / "out"), "--adapter-only", "--json")

    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert "adapter_model.safetensors" in info["files"] and "model.safetensors" not in info["files"]
    assert info["adapter_params"] == sum(p.numel() for n, p in lora_model.named_parameters() if "lora_" in n)
    loaded = peft.PeftModel.from_pretrained(gpt2(tokenizer), tmp_path / "out").eval()
    torch.testing.assert_close(logits(loaded, sample), logits(lora_model, sample), atol=0, rtol=0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "OUT"], "give --model DIR, --checkpoint DIR or --run RUN"),
        (["--model", "MISSING", "-o", "OUT"], "model directory MISSING does not exist"),
        (["--model", "SOURCE", "-o", "SOURCE"], "SOURCE already exists and is not an empty directory"),
    ],
    ids=["no-source", "missing-source", "existing-output"],
)
def test_errors_are_one_line_and_exit_2(tokenizer: Any, tmp_path: Path, args: list[str], message: str) -> None:
    source = save_model_dir(gpt2(tokenizer), tokenizer, tmp_path / "source")
    names = {"OUT": str(tmp_path / "out"), "MISSING": str(tmp_path / "missing"), "SOURCE": str(source)}

    result = codex("export", *[names.get(a, a) for a in args])

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert message.replace("MISSING", names["MISSING"]).replace("SOURCE", names["SOURCE"]) in result.stderr
    assert not (tmp_path / "out").exists()


def test_adapter_only_of_a_model_without_adapter_is_an_error(tokenizer: Any, tmp_path: Path) -> None:
    from codex_core.errors import CodexError
    from codex_models.models.export import export_model

    source = save_model_dir(gpt2(tokenizer), tokenizer, tmp_path / "source")

    with pytest.raises(CodexError, match=r"has no LoRA adapter .*nothing for --adapter-only"):
        export_model(source, tmp_path / "out", adapter_only=True)
    assert not (tmp_path / "out").exists()
