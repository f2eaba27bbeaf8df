"""The ``gpt2`` model builder, built through the registry like codex builds it."""

from __future__ import annotations

import math
from typing import Any

import pytest

import codex_models.plugin
from codex_core.errors import ComponentError
from codex_core.registry import Registry

torch = pytest.importorskip("torch")

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "n_positions": 32}


@pytest.fixture
def tiny(codex_installed_registry: Registry) -> Any:
    torch.manual_seed(0)
    return codex_installed_registry.build("model", "gpt2", TINY)


def batch(vocab_size: int = 104, size: tuple[int, int] = (2, 16)) -> Any:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, vocab_size, size, generator=generator)


def test_forward_with_labels_gives_a_finite_loss(tiny: Any) -> None:
    ids = batch()
    out = tiny(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids)
    assert math.isfinite(out.loss.item())


def test_logits_have_shape_batch_seq_vocab(tiny: Any) -> None:
    out = tiny(input_ids=batch())
    assert tuple(out.logits.shape) == (2, 16, 104)


def test_forward_without_labels_has_no_loss(tiny: Any) -> None:
    assert tiny(input_ids=batch()).loss is None


def test_one_optimizer_step_lowers_the_loss_on_a_repeated_batch(tiny: Any) -> None:
    ids = batch()
    optimizer = torch.optim.AdamW(tiny.parameters(), lr=1e-2)
    before = tiny(input_ids=ids, labels=ids).loss
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = tiny(input_ids=ids, labels=ids).loss
    assert after.item() < before.item()


def test_params_reach_the_model_config(codex_installed_registry: Registry) -> None:
    model = codex_installed_registry.build("model", "gpt2", {**TINY, "vocab_size": 50, "eos_token_id": 2})
    config = model.config
    assert (config.vocab_size, config.n_layer, config.n_embd, config.eos_token_id) == (50, 1, 32, 2)


def test_default_model_is_the_tiny_preset(codex_installed_registry: Registry) -> None:
    model = codex_installed_registry.build("model", "gpt2")
    assert (model.config.n_layer, model.config.n_head, model.config.n_embd) == (4, 4, 128)


def test_unknown_param_is_an_error_naming_the_key(codex_installed_registry: Registry) -> None:
    with pytest.raises(ComponentError, match="n_layers"):
        codex_installed_registry.build("model", "gpt2", {"n_layers": 4})


def test_n_embd_must_be_a_multiple_of_n_head(codex_installed_registry: Registry) -> None:
    with pytest.raises(ComponentError, match=r"n_embd: must be a multiple of n_head \(4\), got 30"):
        codex_installed_registry.build("model", "gpt2", {"n_embd": 30, "n_head": 4})


def test_special_ids_must_fit_the_vocabulary(codex_installed_registry: Registry) -> None:
    with pytest.raises(ComponentError, match=r"eos_token_id: must be below vocab_size \(10\)"):
        codex_installed_registry.build("model", "gpt2", {"vocab_size": 10, "eos_token_id": 10})


def test_registered_through_the_test_fixtures(register_codex_plugin, codex_registry: Registry) -> None:
    register_codex_plugin(codex_models.plugin, name="models")
    model = codex_registry.build("model", "gpt2", {**TINY, "vocab_size": 11})
    assert model(input_ids=batch(11, (1, 4))).logits.shape[-1] == 11
