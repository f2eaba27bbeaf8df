"""The numerics of the training loop, checked against independent computations: gradient
clipping and the logged gradient norm, FLOPs per token and MFU, and a non-finite loss."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from codex_core import hookimpl
from codex_core.errors import CodexError
from codex_models.training import checkpoint as ckpt
from codex_models.training.numerics import flops_per_token
from codex_models.training.run import run_training

torch = pytest.importorskip("torch")


class GradProbe:
    """Hooks the run's model at train start (torch's own hooks, not the engine): each
    parameter's gradient as backward leaves it, before any clipping, and the gradients the
    optimizer steps with, one pair of lists per optimizer step."""

    def __init__(self) -> None:
        self.backward: list[list[torch.Tensor]] = []
        self.stepped: list[list[torch.Tensor]] = []
        self._pending: dict[int, torch.Tensor] = {}
        self.params: list[torch.nn.Parameter] = []

    @hookimpl
    def codex_on_train_start(self, run, config, model, state, loggers):
        self.params = [p for p in model.parameters() if p.requires_grad]
        for i, p in enumerate(self.params):
            p.register_post_accumulate_grad_hook(
                lambda p, i=i: self._pending.__setitem__(i, p.grad.detach().clone())
            )

    def optimizer_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        ours = {id(q) for group in optimizer.param_groups for q in group["params"]}
        if self.params and id(self.params[0]) in ours:
            self.backward.append([self._pending[i] for i in sorted(self._pending)])
            self.stepped.append([p.grad.detach().clone() for p in self.params if p.grad is not None])
            self._pending.clear()


@pytest.fixture
def grad_probe(add_plugin: Any) -> Iterator[GradProbe]:
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    probe = GradProbe()
    add_plugin(probe)
    handle = register_optimizer_step_pre_hook(probe.optimizer_step)
    try:
        yield probe
    finally:
        handle.remove()


def total_norm(grads: list[torch.Tensor]) -> float:
    """The L2 norm of all gradients together, in float64."""
    return float(torch.linalg.vector_norm(torch.cat([g.double().flatten() for g in grads])))


def clipped(grads: list[torch.Tensor], limit: float) -> list[torch.Tensor]:
    """``grads`` clipped by ``torch.nn.utils.clip_grad_norm_`` (on stand-in parameters)."""
    params = [torch.nn.Parameter(torch.empty_like(g)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(params, limit)
    return [p.grad for p in params]


def logged(rows: list[dict[str, Any]], name: str) -> dict[int, float]:
    """``{step: value}`` of one metric in the rows of a run's metrics.ndjson."""
    return {r["step"]: r["metrics"][name] for r in rows if name in r["metrics"]}


def test_the_update_uses_the_clipped_gradient_and_the_log_has_the_norm_before_clipping(
    train_config, grad_probe, runs_io
):
    limit = 0.05
    config = train_config(run__name="clip", trainer__max_steps=3, trainer__grad_clip=limit)[1]

    result = run_training(config, progress=False)

    norms = logged(runs_io.metrics_rows(result.run), "train/grad_norm")
    assert len(grad_probe.stepped) == 3 and sorted(norms) == [1, 2, 3]
    for step, (backward, stepped) in enumerate(zip(grad_probe.backward, grad_probe.stepped, strict=True), 1):
        assert total_norm(backward) > limit  # the limit is in effect
        assert norms[step] == pytest.approx(total_norm(backward), rel=1e-5)
        assert total_norm(stepped) <= limit * (1 + 1e-5)
        assert all(
            torch.allclose(s, m, rtol=1e-6, atol=0)
            for s, m in zip(stepped, clipped(backward, limit), strict=True)
        )


def test_without_clipping_the_update_uses_the_gradient_as_it_is_and_logs_its_norm(
    train_config, grad_probe, runs_io
):
    config = train_config(run__name="noclip", trainer__max_steps=2, trainer__grad_clip=None)[1]

    result = run_training(config, progress=False)

    norms = logged(runs_io.metrics_rows(result.run), "train/grad_norm")
    assert sorted(norms) == [1, 2]
    for step, (backward, stepped) in enumerate(zip(grad_probe.backward, grad_probe.stepped, strict=True), 1):
        assert all(torch.equal(s, b) for s, b in zip(stepped, backward, strict=True))
        assert norms[step] == pytest.approx(total_norm(backward), rel=1e-5)


def gpt2_flops_by_hand(vocab: int, positions: int, layers: int, heads: int, width: int, seq_len: int) -> int:
    """6N + 12·L·H·Q·T for a GPT-2 whose output layer is its token embedding: N counts the
    token and position embeddings, per block two LayerNorms, the fused qkv projection, the
    attention output projection and the 4x MLP (all with biases), and the final LayerNorm."""
    d = width
    block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    n = vocab * d + positions * d + layers * block + 2 * d
    return 6 * n + 12 * layers * heads * (d // heads) * seq_len


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_flops_per_token_of_a_gpt2_built_from_config_is_6n_plus_attention(tied: bool) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    shape = {"vocab_size": 97, "n_positions": 64, "n_layer": 2, "n_head": 4, "n_embd": 32}
    model = GPT2LMHeadModel(GPT2Config(**shape, tie_word_embeddings=tied, bos_token_id=0, eos_token_id=0))

    flops = flops_per_token(model, seq_len=24)

    # Untied, the output layer is a second vocab x width matrix and the input embedding (a
    # lookup, no FLOPs) is left out: the same count as the tied model.
    assert flops == gpt2_flops_by_hand(97, 64, 2, 4, 32, seq_len=24)


def test_mfu_is_tokens_per_second_times_flops_per_token_over_peak_flops(train_config, runs_io):
    config = train_config(run__name="mfu", trainer__max_steps=3, trainer__peak_flops=2e9)[1]

    result = run_training(config, progress=False)

    shape = json.loads((result.run / "checkpoints/step-00000003/config.json").read_text())
    per_token = gpt2_flops_by_hand(
        shape["vocab_size"],
        shape["n_positions"],
        shape["n_layer"],
        shape["n_head"],
        shape["n_embd"],
        seq_len=32,
    )
    rows = runs_io.metrics_rows(result.run)
    mfu, tokens_per_s = logged(rows, "train/mfu"), logged(rows, "train/tokens_per_s")
    assert sorted(mfu) == [1, 2, 3]
    assert all(mfu[s] == pytest.approx(tokens_per_s[s] * per_token / 2e9, rel=1e-9) for s in mfu)


class NaNLogits:
    """From the ``at``-th training forward on, the model's logits are NaN (a forward hook on
    its output layer, put there at train start)."""

    def __init__(self, at: int) -> None:
        self.at, self.forwards = at, 0

    @hookimpl
    def codex_on_train_start(self, run, config, model, state, loggers):
        model.get_output_embeddings().register_forward_hook(self.hook)

    def hook(self, module: Any, args: Any, output: torch.Tensor) -> torch.Tensor | None:
        if not module.training:
            return None
        self.forwards += 1
        return output * math.nan if self.forwards >= self.at else None


def test_a_non_finite_loss_ends_the_run_with_the_step_and_what_to_change(train_config, add_plugin, tmp_path):
    add_plugin(NaNLogits(at=5))

    with pytest.raises(CodexError) as info:
        run_training(train_config(run__name="nan")[1], progress=False)

    run = tmp_path / "runs" / "nan"
    assert info.value.message == "the training loss is nan at step 5"
    assert info.value.hint == "lower trainer.lr, enable trainer.grad_clip, or use precision fp32"
    assert ckpt.latest_checkpoint(run / "checkpoints").step == 3  # nothing written from the NaN step
    assert json.loads((run / "manifest.json").read_text())["status"] == "failed"


def test_codex_train_reports_a_non_finite_loss_in_one_line_with_exit_2(train_config, add_plugin, codex_cli):
    add_plugin(NaNLogits(at=2))
    path, _ = train_config(run__name="nan-cli")

    code, _, err = codex_cli("train", "-c", str(path), "--json")

    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and "Traceback" not in err
    assert errors == [
        "error: the training loss is nan at step 2; lower trainer.lr, enable trainer.grad_clip, "
        "or use precision fp32"
    ]
