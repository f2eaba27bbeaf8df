"""codex-models: model builders, the training engine, generation and evaluation for codex,
registered through the ``codex`` entry point.

Importing this package is cheap (no torch); the public names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core.lazy import lazy_exports

__version__ = "1!0.3.0"

_LAZY = {
    "build_gpt2": "codex_models.models.gpt2",
    "build_llama": "codex_models.models.llama",
    "GenerationResult": "codex_models.generation.sampling",
    "BatchSample": "codex_models.generation.batched",
    "generate_batch": "codex_models.generation.batched",
    "HFLanguageModel": "codex_models.evaluation.lm",
    "StreamDecoder": "codex_models.generation.stream",
    "GPT2Params": "codex_models.models.gpt2",
    "LlamaParams": "codex_models.models.llama",
    "memory_estimate": "codex_models.models.presets",
    "param_count": "codex_models.models.presets",
    "preset": "codex_models.models.presets",
    "preset_names": "codex_models.models.presets",
    "build_hf_local": "codex_models.models.hf_local",
    "apply_lora": "codex_models.models.lora",
    "merge_lora": "codex_models.models.lora",
    "save_adapter": "codex_models.models.lora",
    "lora_counts": "codex_models.models.lora",
    "load_model_dir": "codex_models.models.model_dir",
    "save_model_dir": "codex_models.models.model_dir",
    "ExactMatch": "codex_models.evaluation.metrics.exact_match",
    "ExactMatchParams": "codex_models.evaluation.metrics.exact_match",
    "normalize_text": "codex_models.evaluation.metrics.exact_match",
}

__all__ = [
    "BatchSample",
    "ExactMatch",
    "ExactMatchParams",
    "GPT2Params",
    "GenerationResult",
    "HFLanguageModel",
    "LlamaParams",
    "StreamDecoder",
    "__version__",
    "apply_lora",
    "build_gpt2",
    "build_hf_local",
    "build_llama",
    "generate_batch",
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
    from codex_models.evaluation.lm import HFLanguageModel
    from codex_models.evaluation.metrics.exact_match import ExactMatch, ExactMatchParams, normalize_text
    from codex_models.generation.batched import BatchSample, generate_batch
    from codex_models.generation.sampling import GenerationResult
    from codex_models.generation.stream import StreamDecoder
    from codex_models.models.gpt2 import GPT2Params, build_gpt2
    from codex_models.models.hf_local import build_hf_local
    from codex_models.models.llama import LlamaParams, build_llama
    from codex_models.models.lora import apply_lora, lora_counts, merge_lora, save_adapter
    from codex_models.models.model_dir import load_model_dir, save_model_dir
    from codex_models.models.presets import memory_estimate, param_count, preset, preset_names
