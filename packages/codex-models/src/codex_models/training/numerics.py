"""Numerics of the training loop: seeding, precision (autocast and the grad scaler), the
loss, gradient clipping, activation checkpointing, and FLOPs for MFU."""

from __future__ import annotations

import random
import time
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from codex_core.errors import CodexError
from codex_models.models.hf_config import hidden_size, num_heads, num_layers
from codex_models.training.data import IGNORE_INDEX

if TYPE_CHECKING:  # pragma: no cover
    import torch


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python's, numpy's and torch's global RNGs; with ``deterministic`` also make
    torch use deterministic algorithms (:func:`use_deterministic`)."""
    import numpy as np
    import torch

    if deterministic:
        use_deterministic()
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def use_deterministic() -> None:
    """``trainer.deterministic``: ``torch.use_deterministic_algorithms(True)``, cuDNN's
    autotuner off, and ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (cuBLAS needs it to be
    deterministic; set before CUDA starts, unless the environment sets it already). An op
    without a deterministic implementation then raises instead of varying."""
    import os

    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


def enable_activation_checkpointing(model: Any) -> None:
    """Recompute each layer's activations in backward (transformers' API; the older name
    where the newer one is missing)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    elif hasattr(model, "gradient_checkpointing_enable"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    else:
        raise CodexError(f"activation_checkpointing: {type(model).__name__} does not support it",
                         hint="set trainer.activation_checkpointing=false")


def precision_context(precision: str, device: torch.device) -> tuple[AbstractContextManager[Any], Any]:
    import torch

    if precision == "fp32":
        return nullcontext(), torch.amp.GradScaler(device.type, enabled=False)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise CodexError("precision bf16: this GPU does not support bf16", hint="use precision fp16 or fp32")
    if precision == "fp16" and device.type != "cuda":
        raise CodexError(f"precision fp16 needs a CUDA device (this run uses {device.type})",
                         hint="use precision bf16 or fp32")
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    return torch.autocast(device_type=device.type, dtype=dtype), scaler


def cross_entropy_sum(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction="sum")


def clip_grad_norm(model: torch.nn.Module, max_norm: float | None) -> float:
    import torch

    params = [p for p in model.parameters() if p.grad is not None]
    if max_norm is None:
        norms = [p.grad.detach().float().norm() for p in params]  # type: ignore[union-attr]
        total = torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())
    else:
        total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    if hasattr(total, "full_tensor"):  # a DTensor under FSDP
        total = total.full_tensor()
    return float(total)


def flops_per_token(model: Any, seq_len: int) -> float:
    """Training FLOPs per token: 6N + 12 L H Q T (PaLM appendix B; L layers, H heads, Q head
    size, T context; N = the parameters, less the input embedding when it is not tied to the
    output layer: a lookup costs no FLOPs, the tied matrix is the output matmul)."""
    config = getattr(model, "config", None)
    n_params = sum(p.numel() for p in model.parameters())
    embed = getattr(model, "get_input_embeddings", lambda: None)()
    if embed is not None:
        n_params -= embed.weight.numel() if not getattr(config, "tie_word_embeddings", True) else 0
    heads = num_heads(config)
    return float(6 * n_params + 12 * num_layers(config) * heads * (hidden_size(config) // heads) * seq_len)


def measure_peak_flops(device: torch.device) -> float:
    """Dense fp32 (bf16 on CUDA) matmul FLOP/s on this device: the MFU denominator."""
    import torch

    n = 1024 if device.type == "cpu" else 8192
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    repeats, start = 5, time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start)
