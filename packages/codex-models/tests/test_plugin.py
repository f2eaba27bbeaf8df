"""The plugin module: registration is cheap and names the components codex expects."""

from __future__ import annotations

import pytest

from codex_core.config import load_config
from codex_core.registry import Registry
from codex_models import GPT2Params


def test_the_entry_point_registers_the_models_metrics_and_tasks(codex_installed_registry: Registry) -> None:
    assert codex_installed_registry.by_plugin("models") == {
        "model": ["gpt2", "hf-local", "llama"],
        "metric": ["accuracy", "bleu", "chrf", "distinct-n", "exact-match", "pass-at-k", "rouge-l", "squad-f1"],
        "task": ["code-completion", "generation", "lm-eval", "multiple-choice", "perplexity"]}


def test_every_registered_metric_and_task_imports_with_its_params_model(
        codex_installed_registry: Registry) -> None:
    """The lazy "module:attr" strings point at real classes (the params models included)."""
    for kind in ("metric", "task"):
        for spec in codex_installed_registry.list(kind):
            if spec.plugin == "models":
                assert callable(spec.load_factory()), spec.name
                spec.load_config()


def test_the_default_run_config_model_params_validate(codex_installed_registry: Registry) -> None:
    ref = load_config().config.model
    params = codex_installed_registry.get("model", ref.name).validate_params(ref.params)
    assert (params.n_layer, params.n_head, params.n_embd) == (3, 4, 96)


def test_default_vocab_size_matches_the_default_char_tokenizer(codex_installed_registry: Registry) -> None:
    if ("tokenizer", "char") not in codex_installed_registry:
        pytest.skip("codex-tokenizers is not installed")
    tokenizer = codex_installed_registry.build("tokenizer", "char")
    assert GPT2Params().vocab_size == tokenizer.vocab_size
