"""The catalog of model families: their presets, parameter counts and memory estimates.

Each family keeps its own presets, parameter count and LoRA defaults in its file
(:mod:`codex_models.models.gpt2`, :mod:`codex_models.models.llama`); this module looks a
family up by name. No torch or transformers here: ``codex models list`` reads it without
importing either (whose config classes import torch). The counts follow the Hugging Face
architectures exactly; ``tests/test_presets.py`` checks them against meta-device builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from codex_models.models import gpt2, llama
from codex_models.models.params import CHAR_VOCAB_SIZE, check_preset

__all__ = ["CHAR_VOCAB_SIZE", "DEFAULT_TARGETS", "FAMILIES", "PRESETS", "catalog", "memory_estimate",
           "param_count", "preset", "preset_names", "resolve"]

FAMILIES: dict[str, ModuleType] = {gpt2.FAMILY: gpt2, llama.FAMILY: llama}
"""The families built from presets, by name: each module has ``FAMILY``, ``PRESETS``,
``LORA_TARGETS`` and ``param_count(config)``."""

PRESETS: dict[str, dict[str, dict[str, Any]]] = {name: module.PRESETS for name, module in FAMILIES.items()}
"""``{family: {preset: architecture fields}}``."""

DEFAULT_TARGETS: dict[str, list[str]] = {name: module.LORA_TARGETS for name, module in FAMILIES.items()}
"""Default LoRA ``target_modules`` of each family (the attention projections)."""

BYTES_PER_PARAM = {"fp32": 4, "bf16": 2}


def preset_names(family: str) -> list[str]:
    """The presets of ``family``, in size order."""
    return list(_family(family).PRESETS)


def preset(family: str, name: str) -> dict[str, Any]:
    """A copy of the architecture fields of one preset; an unknown name is a ``ValueError``
    with a "did you mean" and the list of presets."""
    presets = _family(family).PRESETS
    check_preset(family, presets, name)
    return dict(presets[name])


def resolve(family: str, name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The preset's fields with the non-None ``overrides`` on top."""
    return {**preset(family, name), **{k: v for k, v in (overrides or {}).items() if v is not None}}


def param_count(family: str, config: Mapping[str, Any]) -> int:
    """Parameters of a model of ``family`` with the (resolved) ``config``, without building it
    (each family's ``param_count`` says what it counts)."""
    return int(_family(family).param_count(config))


def memory_estimate(params: int) -> dict[str, int]:
    """Rough bytes for a model of ``params`` parameters.

    ``weights_fp32`` / ``weights_bf16``: the weights alone (4 / 2 bytes each).
    ``train_adamw_fp32``: weights + gradients + AdamW's two moments, all fp32 (16 bytes a
    parameter). Activations, the CUDA context and allocator slack come on top, so treat it
    as a lower bound for training.
    """
    return {
        "weights_fp32": params * BYTES_PER_PARAM["fp32"],
        "weights_bf16": params * BYTES_PER_PARAM["bf16"],
        "train_adamw_fp32": params * 4 * BYTES_PER_PARAM["fp32"],
    }


def catalog() -> list[dict[str, Any]]:
    """Every preset of every family: ``{family, preset, params, memory, config}``."""
    rows = []
    for family, module in FAMILIES.items():
        for name in module.PRESETS:
            config = preset(family, name)
            count = param_count(family, config)
            rows.append({"family": family, "preset": name, "params": count, "memory": memory_estimate(count),
                         "config": config})
    return rows


def _family(family: str) -> ModuleType:
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r} (families: {', '.join(FAMILIES)})")
    return FAMILIES[family]
