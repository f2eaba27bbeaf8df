"""The optimizer and the learning-rate schedule of the training engine.

Weight decay applies to matrices (embeddings and linear weights: ``ndim >= 2``), never to
biases or norm scales. The schedule is a pure function of the step, so a resumed run needs
no scheduler state: warmup from 0 to ``lr`` (linear), then ``cosine``, ``linear`` or
``constant`` decay to ``min_lr`` at the last step.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from codex_core.config import TrainerConfig


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters in two groups: decayed matrices, and the rest without decay.
    Tied parameters (GPT-2's lm_head and token embeddings) appear once."""
    decay, no_decay, seen = [], [], set()
    for param in model.parameters():
        if not param.requires_grad or id(param) in seen:
            continue
        seen.add(id(param))
        (decay if param.ndim >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: torch.nn.Module, config: TrainerConfig, device_type: str) -> torch.optim.Optimizer:
    """AdamW (fused where this torch and device have it, unless ``config.fused`` is False)
    or SGD with momentum, over :func:`param_groups`."""
    import torch

    groups = param_groups(model, config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    fused = fused_available(device_type) if config.fused is None else config.fused
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, eps=config.eps, fused=fused or None)


def fused_available(device_type: str) -> bool:
    """Whether this torch has a fused AdamW kernel for ``device_type`` (cuda, cpu, mps)."""
    import torch

    try:
        probe = torch.zeros(1, device=device_type, requires_grad=True)
        torch.optim.AdamW([probe], fused=True)
    except (RuntimeError, ValueError):
        return False
    return True


def lr_at(step: int, config: TrainerConfig, total_steps: int | None) -> float:
    """The learning rate for optimizer step ``step`` (0-based): ``lr * (step + 1) / warmup``
    during warmup, then ``lr`` at step ``warmup`` decaying to exactly ``min_lr`` at the last
    step (``total_steps - 1``). Without a step limit (``max_steps`` None: the run ends by
    tokens or time) the decay spans ``total_steps`` when known, else the rate stays at
    ``lr`` after warmup."""
    peak, floor, warmup = config.lr, config.min_lr, config.warmup_steps
    if step < warmup:
        return peak * (step + 1) / warmup
    last = (total_steps or 0) - 1
    if config.schedule == "constant" or last <= warmup:
        return peak
    progress = min(1.0, (step - warmup) / (last - warmup))
    if config.schedule == "linear":
        return peak + (floor - peak) * progress
    return floor + 0.5 * (peak - floor) * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
