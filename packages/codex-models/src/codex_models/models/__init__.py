"""What a model is: one file per family (``gpt2``, ``llama``, ``hf_local``: params, presets,
parameter count, LoRA defaults and the builder), the family catalog (``presets``), dtype and
device placement, LoRA, the model directory format and export.

For a third-party model family the building blocks are re-exported here (imported on first
use): ``PresetParams``, ``LoRAParams``, ``place``, ``with_tokenizer``, ``with_lora``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core.lazy import lazy_exports

_LAZY = {
    "LoRAParams": "codex_models.models.params",
    "PresetParams": "codex_models.models.params",
    "place": "codex_models.models.placement",
    "with_tokenizer": "codex_models.models.placement",
    "with_lora": "codex_models.models.lora",
    "tokenizer_ref": "codex_models.models.hf_local",
}

__all__ = list(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from codex_models.models.hf_local import tokenizer_ref
    from codex_models.models.lora import with_lora
    from codex_models.models.params import LoRAParams, PresetParams
    from codex_models.models.placement import place, with_tokenizer
