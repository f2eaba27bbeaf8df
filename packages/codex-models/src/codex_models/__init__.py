"""codex-models: model builders and evaluation metrics for codex, registered through the
``codex`` entry point.

Importing this package is cheap (no torch); the public names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "build_gpt2": "codex_models.gpt2",
    "build_llama": "codex_models.llama",
    "GenerationResult": "codex_models.generate",
    "StreamDecoder": "codex_models.generate",
    "GPT2Params": "codex_models.params",
    "LlamaParams": "codex_models.params",
    "memory_estimate": "codex_models.presets",
    "param_count": "codex_models.presets",
    "preset": "codex_models.presets",
    "preset_names": "codex_models.presets",
    "build_hf_local": "codex_models.hf_local",
    "apply_lora": "codex_models.lora",
    "merge_lora": "codex_models.lora",
    "save_adapter": "codex_models.lora",
    "lora_counts": "codex_models.lora",
    "load_model_dir": "codex_models.model_dir",
    "save_model_dir": "codex_models.model_dir",
    "ExactMatch": "codex_models.exact_match",
    "ExactMatchParams": "codex_models.params",
    "normalize_text": "codex_models.exact_match",
}

__all__ = [
    "ExactMatch",
    "ExactMatchParams",
    "GPT2Params",
    "GenerationResult",
    "LlamaParams",
    "StreamDecoder",
    "__version__",
    "apply_lora",
    "build_gpt2",
    "build_hf_local",
    "build_llama",
    "load_model_dir",
    "lora_counts",
    "memory_estimate",
    "merge_lora",
    "normalize_text",
    "param_count",
    "preset",
    "preset_names",
    "save_adapter",
    "save_model_dir",
]


__getattr__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:  # pragma: no cover
    from codex_models.exact_match import ExactMatch, normalize_text
    from codex_models.generate import GenerationResult, StreamDecoder
    from codex_models.gpt2 import build_gpt2
    from codex_models.hf_local import build_hf_local
    from codex_models.llama import build_llama
    from codex_models.lora import apply_lora, lora_counts, merge_lora, save_adapter
    from codex_models.model_dir import load_model_dir, save_model_dir
    from codex_models.params import ExactMatchParams, GPT2Params, LlamaParams
    from codex_models.presets import memory_estimate, param_count, preset, preset_names
