"""One answer to "what shape is this Hugging Face config?": context length, layers, heads and
width under each family's field names (GPT-2's ``n_positions``/``n_layer``/``n_head``/``n_embd``,
Llama's and most others' ``max_position_embeddings``/``num_hidden_layers``/...).

Works on any object with those attributes (a ``PretrainedConfig``, or None for "unknown"),
without importing transformers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["context_length", "hidden_size", "num_heads", "num_layers"]

_FIELDS = {
    "context": ("max_position_embeddings", "n_positions", "max_seq_len"),
    "layers": ("num_hidden_layers", "n_layer"),
    "heads": ("num_attention_heads", "n_head"),
    "hidden": ("hidden_size", "n_embd"),
}


def _first(config: Any, what: str) -> int | None:
    for name in _FIELDS[what]:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def context_length(config: Any) -> int | None:
    """The longest sequence the model accepts, or None when the config does not say."""
    return _first(config, "context")


def num_layers(config: Any) -> int:
    """Transformer blocks (0 when the config does not say)."""
    return _first(config, "layers") or 0


def num_heads(config: Any) -> int:
    """Attention (query) heads per block (1 when the config does not say)."""
    return _first(config, "heads") or 1


def hidden_size(config: Any) -> int:
    """Width of the hidden states (0 when the config does not say)."""
    return _first(config, "hidden") or 0
