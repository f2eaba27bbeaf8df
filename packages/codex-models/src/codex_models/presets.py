"""Named model presets, their parameter counts and memory estimates, from plain dicts.

Pure Python on purpose: ``codex models list`` reads this module without importing torch or
transformers (whose config classes import torch). The counts follow the Hugging Face
architectures exactly; ``tests/test_presets.py`` checks them against meta-device builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CHAR_VOCAB_SIZE = 4 + 100
"""The vocabulary of the default ``char`` tokenizer: 4 special tokens (pad, bos, eos, unk)
plus the 100 characters of ``string.printable``."""

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "gpt2": {
        # vocab_size is a fallback: inside a run the model takes the tokenizer's.
        "tiny": {"vocab_size": CHAR_VOCAB_SIZE, "n_positions": 256, "n_layer": 4, "n_head": 4, "n_embd": 128},
        "small": {"vocab_size": CHAR_VOCAB_SIZE, "n_positions": 512, "n_layer": 6, "n_head": 6, "n_embd": 384},
        "gpt2-124m": {"vocab_size": 50257, "n_positions": 1024, "n_layer": 12, "n_head": 12, "n_embd": 768},
    },
    "llama": {
        "tiny": {
            "vocab_size": CHAR_VOCAB_SIZE, "hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 4,
            "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
            "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": False,
        },
        "small": {
            "vocab_size": CHAR_VOCAB_SIZE, "hidden_size": 384, "intermediate_size": 1024, "num_hidden_layers": 8,
            "num_attention_heads": 6, "num_key_value_heads": 2, "max_position_embeddings": 512,
            "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": False,
        },
        "tinyllama-1.1b": {
            "vocab_size": 32000, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
            "num_attention_heads": 32, "num_key_value_heads": 4, "max_position_embeddings": 2048,
            "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
        },
    },
}
"""``{family: {preset: architecture fields}}``; the field names are those of the family's
params model (``GPT2Params``, ``LlamaParams``) and of its transformers config."""

BYTES_PER_PARAM = {"fp32": 4, "bf16": 2}


def preset_names(family: str) -> list[str]:
    """The presets of ``family``, in size order."""
    return list(_family(family))


def preset(family: str, name: str) -> dict[str, Any]:
    """A copy of the architecture fields of one preset; an unknown name is a ``ValueError``
    with a "did you mean" and the list of presets."""
    presets = _family(family)
    if name not in presets:
        from codex_core.errors import did_you_mean

        guess = did_you_mean(name, presets)
        raise ValueError(
            f"unknown {family} preset {name!r}" + (f"; did you mean {guess!r}?" if guess else "")
            + f" (presets: {', '.join(presets)})"
        )
    return dict(presets[name])


def resolve(family: str, name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The preset's fields with the non-None ``overrides`` on top."""
    return {**preset(family, name), **{k: v for k, v in (overrides or {}).items() if v is not None}}


def param_count(family: str, config: Mapping[str, Any]) -> int:
    """Parameters of a model of ``family`` with the (resolved) ``config``, without building it.

    gpt2: token and position embeddings, per block two LayerNorms, the fused qkv and output
    projections and the 4x MLP (all with biases), a final LayerNorm; the lm_head is tied to
    the token embeddings. llama: token embeddings, per block q/k/v/o (k and v sized by the
    key-value heads) and the gated MLP (gate, up, down; no biases) and two RMSNorms, a final
    RMSNorm, and an lm_head of its own unless ``tie_word_embeddings``.
    """
    c = config
    if family == "gpt2":
        d = c["n_embd"]
        block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d)
        return int(c["vocab_size"] * d + c["n_positions"] * d + c["n_layer"] * block + 2 * d)
    if family == "llama":
        h, heads, kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        head_dim = h // heads
        attention = h * heads * head_dim + 2 * h * kv * head_dim + heads * head_dim * h
        block = attention + 3 * h * c["intermediate_size"] + 2 * h
        lm_head = 0 if c.get("tie_word_embeddings") else c["vocab_size"] * h
        return int(c["vocab_size"] * h + c["num_hidden_layers"] * block + h + lm_head)
    _family(family)  # raises for an unknown family
    raise AssertionError("unreachable")  # pragma: no cover


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
    for family, presets in PRESETS.items():
        for name in presets:
            config = preset(family, name)
            count = param_count(family, config)
            rows.append({"family": family, "preset": name, "params": count, "memory": memory_estimate(count),
                         "config": config})
    return rows


def _family(family: str) -> dict[str, dict[str, Any]]:
    if family not in PRESETS:
        raise ValueError(f"unknown model family {family!r} (families: {', '.join(PRESETS)})")
    return PRESETS[family]
