"""Presets of the ``gpt2`` and ``llama`` families: counts without building, real builds."""

from __future__ import annotations

import math
from typing import Any

import pytest

from codex_core.errors import ComponentError
from codex_core.registry import Registry
from codex_models import GPT2Params, LlamaParams, memory_estimate, param_count, preset_names
from codex_models.models.presets import PRESETS

torch = pytest.importorskip("torch")

PARAMS = {"gpt2": GPT2Params, "llama": LlamaParams}
ALL_PRESETS = [(family, name) for family in PRESETS for name in PRESETS[family]]
OVERRIDES = [
    ("gpt2", {"preset": "small", "n_layer": 3, "vocab_size": 8000, "n_positions": 128}),
    ("llama", {"preset": "small", "num_key_value_heads": 6, "tie_word_embeddings": True}),
    ("llama", {"preset": "tiny", "hidden_size": 96, "num_attention_heads": 3, "num_key_value_heads": 1,
               "vocab_size": 500}),
]


def meta_build(registry: Registry, family: str, params: dict[str, Any]) -> Any:
    with torch.device("meta"):
        return registry.build("model", family, params)


def built_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("family", "name"), ALL_PRESETS)
def test_param_count_of_every_preset_matches_a_meta_build(
    codex_installed_registry: Registry, family: str, name: str
) -> None:
    model = meta_build(codex_installed_registry, family, {"preset": name})
    assert param_count(family, PARAMS[family](preset=name).architecture()) == built_count(model)


@pytest.mark.parametrize(("family", "params"), OVERRIDES)
def test_param_count_of_overridden_configs_matches_a_meta_build(
    codex_installed_registry: Registry, family: str, params: dict[str, Any]
) -> None:
    model = meta_build(codex_installed_registry, family, params)
    assert param_count(family, PARAMS[family](**params).architecture()) == built_count(model)


def test_real_shapes_have_their_published_sizes() -> None:
    gpt2 = param_count("gpt2", GPT2Params(preset="gpt2-124m").architecture())
    tinyllama = param_count("llama", LlamaParams(preset="tinyllama-1.1b").architecture())
    assert (gpt2, round(tinyllama / 1e9, 1)) == (124_439_808, 1.1)


def test_presets_are_in_size_order() -> None:
    for family, params in PARAMS.items():
        counts = [param_count(family, params(preset=name).architecture()) for name in preset_names(family)]
        assert counts == sorted(counts)


def test_small_presets_fit_a_cpu_run() -> None:
    small = [param_count(f, p(preset="small").architecture()) for f, p in PARAMS.items()]
    assert all(10e6 <= n <= 30e6 for n in small)


def test_overrides_replace_only_the_fields_given() -> None:
    params = LlamaParams(preset="tinyllama-1.1b", num_hidden_layers=2)
    assert (params.num_hidden_layers, params.hidden_size, params.num_key_value_heads) == (2, 2048, 4)


def test_gpt2_defaults_stay_those_of_the_char_tokenizer_run() -> None:
    params = GPT2Params()
    assert (params.preset, params.vocab_size, params.n_layer, params.n_head, params.n_embd) == ("tiny", 104, 4, 4, 128)


def test_memory_estimate_is_bytes_of_weights_and_adamw_training() -> None:
    assert memory_estimate(1000) == {"weights_fp32": 4000, "weights_bf16": 2000, "train_adamw_fp32": 16000}


def test_unknown_preset_suggests_the_closest_and_lists_them(codex_installed_registry: Registry) -> None:
    with pytest.raises(ComponentError, match=r"did you mean 'tinyllama-1.1b'\?.*presets: tiny, small, tinyllama"):
        codex_installed_registry.build("model", "llama", {"preset": "tinyllama"})


def test_llama_kv_heads_must_divide_the_heads(codex_installed_registry: Registry) -> None:
    with pytest.raises(ComponentError, match=r"num_key_value_heads: must divide num_attention_heads \(4\)"):
        codex_installed_registry.build("model", "llama", {"num_key_value_heads": 3})


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_tiny_forward_gives_a_finite_loss_and_batch_seq_vocab_logits(
    codex_installed_registry: Registry, family: str
) -> None:
    torch.manual_seed(0)
    model = codex_installed_registry.build("model", family, {"preset": "tiny"})
    ids = torch.randint(0, 104, (2, 16), generator=torch.Generator().manual_seed(0))
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids)
    assert (math.isfinite(out.loss.item()), tuple(out.logits.shape)) == (True, (2, 16, 104))
