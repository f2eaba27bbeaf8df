"""LoRA adapters: applied when the model is built, only the adapters train, saved in PEFT
format, merged back into a plain model."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from codex_core.errors import CodexError, ComponentError
from codex_core.registry import Registry
from codex_models import GPT2Params, LlamaParams, build_gpt2, build_llama
from codex_models.models.lora import (
    apply_lora,
    is_lora,
    lora_counts,
    lora_summary,
    merge_lora,
    save_adapter,
)
from codex_models.models.params import LoRAParams
from codex_models.models.presets import DEFAULT_TARGETS

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

GPT2 = {"n_layer": 2, "n_embd": 32, "n_head": 2, "vocab_size": 64, "n_positions": 32}
LLAMA = {
    "num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "num_key_value_heads": 1,
    "intermediate_size": 64, "vocab_size": 64, "max_position_embeddings": 32,
}


def gpt2(seed: int = 0, **lora: Any) -> Any:
    torch.manual_seed(seed)
    return build_gpt2(GPT2Params(**GPT2, lora=lora or None))


def llama(seed: int = 0, **lora: Any) -> Any:
    torch.manual_seed(seed)
    return build_llama(LlamaParams(**LLAMA, lora=lora or None))


def batch() -> Any:
    return torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(0))


def train_one_step(model: Any) -> None:
    """One AdamW step on a fixed batch, so the adapters' B matrices are no longer zero."""
    ids = batch()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    model.eval()


def logits(model: Any) -> Any:
    with torch.no_grad():
        return model(input_ids=batch()).logits


def adapted(model: Any) -> dict[str, Any]:
    """The modules LoRA wrapped, by name."""
    return {name: module for name, module in model.named_modules() if hasattr(module, "lora_A")}


def test_gpt2_adapts_c_attn_by_default() -> None:
    names = {name.rsplit(".", 1)[-1] for name in adapted(gpt2(r=4))}
    assert names == set(DEFAULT_TARGETS["gpt2"]) == {"c_attn"}


def test_llama_adapts_q_proj_and_v_proj_by_default() -> None:
    names = {name.rsplit(".", 1)[-1] for name in adapted(llama(r=4))}
    assert names == set(DEFAULT_TARGETS["llama"]) == {"q_proj", "v_proj"}


def test_gpt2_trainable_count_is_r_times_in_plus_out_per_adapted_matrix() -> None:
    r, width, layers = 4, GPT2["n_embd"], GPT2["n_layer"]
    trainable, total = lora_counts(gpt2(r=r))
    c_attn = r * (width + 3 * width)  # Conv1D(3 * n_embd, n_embd): in n_embd, out 3 * n_embd
    assert (trainable, total) == (layers * c_attn, sum(p.numel() for p in gpt2().parameters()) + layers * c_attn)


def test_llama_trainable_count_is_r_times_in_plus_out_per_adapted_matrix() -> None:
    r, width, layers = 8, LLAMA["hidden_size"], LLAMA["num_hidden_layers"]
    head_dim = width // LLAMA["num_attention_heads"]
    q_proj = r * (width + width)
    v_proj = r * (width + LLAMA["num_key_value_heads"] * head_dim)  # grouped-query: fewer key-value heads
    assert lora_counts(llama(r=r))[0] == layers * (q_proj + v_proj)


def test_the_summary_line_reports_rank_alpha_targets_and_counts() -> None:
    model = gpt2(r=4, alpha=8)
    trainable, total = lora_counts(model)
    assert lora_summary(model) == (
        f"LoRA r=4 alpha=8 on c_attn: {trainable:,} trainable of {total:,} parameters "
        f"({100 * trainable / total:.2f}%)"
    )


def test_after_a_backward_only_the_adapters_have_gradients() -> None:
    model = gpt2(r=4)
    ids = batch()
    model(input_ids=ids, labels=ids).loss.backward()
    with_grad = {name for name, p in model.named_parameters() if p.grad is not None}
    assert with_grad and all("lora_" in name for name in with_grad)
    assert not any(p.requires_grad for name, p in model.named_parameters() if "lora_" not in name)


def test_a_target_that_matches_nothing_is_an_error_listing_the_module_names() -> None:
    with pytest.raises(ComponentError, match=r"'q_proj' matches no module.*c_attn, c_proj, c_fc, lm_head"):
        gpt2(target_modules=["c_attn", "q_proj"])


def test_a_target_that_matches_only_non_linear_modules_is_an_error() -> None:
    with pytest.raises(ComponentError, match=r"'ln_1' matches only modules LoRA cannot adapt \(LayerNorm\)"):
        gpt2(target_modules=["ln_1"])


def test_a_dotted_suffix_targets_those_modules_only() -> None:
    names = set(adapted(gpt2(target_modules=["mlp.c_proj"])))
    assert names == {f"base_model.model.transformer.h.{i}.mlp.c_proj" for i in range(GPT2["n_layer"])}


def test_a_model_type_without_a_default_needs_target_modules() -> None:
    model = gpt2()
    model.config.model_type = "unheard-of"
    with pytest.raises(ComponentError, match=r"no default LoRA target modules for 'unheard-of'.*c_attn"):
        apply_lora(model, LoRAParams())


def test_an_hf_model_type_gets_its_default_targets_without_a_family() -> None:
    names = {name.rsplit(".", 1)[-1] for name in adapted(apply_lora(llama(), LoRAParams(r=2)))}
    assert names == {"q_proj", "v_proj"}


def test_bias_all_trains_every_bias_too() -> None:
    base_biases = sum(p.numel() for name, p in gpt2().named_parameters() if "bias" in name)
    none, _ = lora_counts(gpt2(r=4))
    all_biases, _ = lora_counts(gpt2(r=4, bias="all"))
    assert all_biases == none + base_biases


def test_bias_lora_only_trains_the_biases_of_adapted_layers() -> None:
    none, _ = lora_counts(gpt2(r=4))
    lora_only, _ = lora_counts(gpt2(r=4, bias="lora_only"))
    assert lora_only == none + GPT2["n_layer"] * 3 * GPT2["n_embd"]  # c_attn's bias, each layer


def test_dropout_reaches_the_adapters() -> None:
    model = gpt2(dropout=0.25)
    dropouts = [module.lora_dropout["default"] for module in adapted(model).values()]
    assert [d.p for d in dropouts] == [0.25] * GPT2["n_layer"]


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")  # inside peft's loader
def test_a_saved_adapter_loads_onto_a_fresh_base_with_peft(tmp_path: Path) -> None:
    model = gpt2(r=4)
    train_one_step(model)
    save_adapter(model, tmp_path / "adapter")
    loaded = peft.PeftModel.from_pretrained(gpt2(), tmp_path / "adapter")  # same seed: the same base weights
    loaded.eval()
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in (tmp_path / "adapter").iterdir()}
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["r"] == 4
    assert torch.equal(logits(loaded), logits(model))


def test_merging_gives_a_plain_model_with_the_same_logits() -> None:
    model = gpt2(r=4)
    train_one_step(model)
    expected = logits(model)
    merged = merge_lora(model)
    assert type(merged).__name__ == "GPT2LMHeadModel" and not is_lora(merged)
    assert not any("lora_" in name for name, _ in merged.named_modules())
    torch.testing.assert_close(logits(merged), expected, atol=1e-5, rtol=0)


def test_merged_weight_is_base_plus_scaled_update() -> None:
    model = gpt2(r=4, alpha=8)
    train_one_step(model)
    layer = adapted(model)["base_model.model.transformer.h.0.attn.c_attn"]
    a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
    expected = layer.base_layer.weight.detach() + (8 / 4) * (b @ a).detach().T  # Conv1D stores (in, out)
    merged = merge_lora(model)
    torch.testing.assert_close(merged.transformer.h[0].attn.c_attn.weight.detach(), expected)


def test_merging_a_model_without_adapters_is_an_error() -> None:
    with pytest.raises(CodexError, match="has no LoRA adapters"):
        merge_lora(gpt2())


def test_lora_is_applied_once() -> None:
    with pytest.raises(ComponentError, match="already has LoRA adapters"):
        apply_lora(gpt2(r=4), LoRAParams())


def test_built_through_the_registry_with_lora_params(
    codex_installed_registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="codex.models"):
        model = codex_installed_registry.build("model", "llama", {**LLAMA, "lora": {"r": 2, "alpha": 4}})
    assert is_lora(model)
    assert f"LoRA r=2 alpha=4 on q_proj, v_proj: {lora_counts(model)[0]:,} trainable" in caplog.text


def test_an_unknown_lora_key_is_an_error_naming_it(codex_installed_registry: Registry) -> None:
    with pytest.raises(ComponentError, match="rank"):
        codex_installed_registry.build("model", "gpt2", {**GPT2, "lora": {"rank": 8}})
