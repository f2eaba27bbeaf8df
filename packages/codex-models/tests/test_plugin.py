"""The plugin module: registration is cheap and names the components codex expects."""

from __future__ import annotations

import pytest

from codex_core.config import load_config
from codex_core.registry import Registry
from codex_models import GPT2Params


def test_the_entry_point_registers_gpt2_llama_hf_local_and_exact_match(codex_installed_registry: Registry) -> None:
    assert codex_installed_registry.by_plugin("models") == {
        "model": ["gpt2", "hf-local", "llama"], "metric": ["exact-match"]}


def test_the_default_run_config_model_params_validate(codex_installed_registry: Registry) -> None:
    ref = load_config().config.model
    params = codex_installed_registry.get("model", ref.name).validate_params(ref.params)
    assert (params.n_layer, params.n_head, params.n_embd) == (3, 4, 96)


def test_default_vocab_size_matches_the_default_char_tokenizer(codex_installed_registry: Registry) -> None:
    if ("tokenizer", "char") not in codex_installed_registry:
        pytest.skip("codex-tokenizers is not installed")
    tokenizer = codex_installed_registry.build("tokenizer", "char")
    assert GPT2Params().vocab_size == tokenizer.vocab_size
