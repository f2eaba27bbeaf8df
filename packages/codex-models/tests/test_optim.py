"""The optimizer and the learning-rate schedule of the training engine."""

from __future__ import annotations

import itertools
import math

import pytest

from codex_core.config import TrainerConfig
from codex_models.training.optim import build_optimizer, fused_available, lr_at, param_groups

torch = pytest.importorskip("torch")


def trainer(**fields: object) -> TrainerConfig:
    return TrainerConfig(**{"max_steps": 100, "lr": 1e-3, "min_lr": 1e-4, "warmup_steps": 10, **fields})


def tiny_gpt2() -> torch.nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, n_positions=16, vocab_size=50))


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant"])
def test_warmup_rises_linearly_to_the_peak(schedule):
    config = trainer(schedule=schedule)

    rates = [lr_at(step, config, 100) for step in range(10)]

    assert rates == pytest.approx([1e-3 * (i + 1) / 10 for i in range(10)])


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_decay_starts_at_the_peak_and_reaches_min_lr_at_the_last_step(schedule):
    config = trainer(schedule=schedule)

    first, last = lr_at(10, config, 100), lr_at(99, config, 100)

    assert first == pytest.approx(1e-3) and last == pytest.approx(1e-4)


def test_cosine_is_halfway_at_the_middle_of_the_decay_and_linear_is_straight():
    cosine, linear = trainer(schedule="cosine", warmup_steps=0), trainer(schedule="linear", warmup_steps=0)

    middle = 50  # steps 0..100 decay: halfway at 50
    assert lr_at(middle, cosine, 101) == pytest.approx((1e-3 + 1e-4) / 2)
    assert lr_at(25, linear, 101) == pytest.approx(1e-3 - 0.25 * (1e-3 - 1e-4))
    rates = [lr_at(s, cosine, 101) for s in range(101)]
    assert all(a >= b for a, b in itertools.pairwise(rates))


def test_constant_stays_at_the_peak_after_warmup():
    config = trainer(schedule="constant")

    assert {lr_at(step, config, 100) for step in range(10, 100)} == {1e-3}


def test_without_a_step_count_the_rate_stays_at_the_peak():
    config = trainer(max_steps=None, max_time=60.0)

    assert lr_at(500, config, None) == 1e-3 and not math.isnan(lr_at(0, config, None))


def test_weight_decay_applies_to_matrices_not_to_biases_or_norms():
    model = tiny_gpt2()
    names = {id(p): n for n, p in model.named_parameters()}

    decay, no_decay = param_groups(model, 0.1)

    decayed = {names[id(p)] for p in decay["params"]}
    plain = {names[id(p)] for p in no_decay["params"]}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert "transformer.wte.weight" in decayed and "transformer.h.0.attn.c_attn.weight" in decayed
    assert all(n.endswith(".bias") or ".ln_" in n for n in plain)
    assert "transformer.h.0.ln_1.weight" in plain and "transformer.h.0.attn.c_attn.bias" in plain


def test_tied_weights_appear_once_and_frozen_parameters_not_at_all():
    model = tiny_gpt2()
    assert model.lm_head.weight is model.transformer.wte.weight
    model.transformer.wpe.weight.requires_grad_(False)

    groups = param_groups(model, 0.1)

    listed = [id(p) for g in groups for p in g["params"]]
    expected = {id(p) for p in model.parameters() if p.requires_grad}
    assert len(listed) == len(set(listed)) == len(expected) and set(listed) == expected


def test_param_groups_dedupe_a_parameter_shared_by_two_modules():
    shared = torch.nn.Linear(4, 4)
    model = torch.nn.ModuleDict({"a": shared, "b": torch.nn.Sequential(shared)})

    groups = param_groups(model, 0.1)

    assert [len(g["params"]) for g in groups] == [1, 1]


def test_adamw_is_fused_where_available_and_not_when_disabled():
    model = tiny_gpt2()

    default = build_optimizer(model, trainer(), "cpu")
    plain = build_optimizer(model, trainer(fused=False), "cpu")

    assert isinstance(default, torch.optim.AdamW)
    assert bool(default.defaults["fused"]) is fused_available("cpu")
    assert not plain.defaults["fused"]
    assert default.defaults["betas"] == (0.9, 0.95)


def test_sgd_has_momentum_and_the_same_decay_groups():
    model = tiny_gpt2()

    optimizer = build_optimizer(model, trainer(optimizer="sgd", momentum=0.8, weight_decay=0.05), "cpu")

    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["momentum"] == 0.8
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.05, 0.0]
