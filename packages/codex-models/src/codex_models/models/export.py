"""Exporting a model directory that ``transformers`` (and ``peft``) load offline: a model
directory or checkpoint in, LoRA merged (or the adapter alone), the model directory format out.

torch and transformers are imported inside :func:`export_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def export_model(source: Path, output: Path, *, adapter_only: bool = False) -> dict[str, Any]:
    """Load the model directory ``source`` and write it to ``output`` (LoRA merged unless
    ``adapter_only``); returns ``{"path", "files", "params", "adapter_params", "merged",
    "adapter_only"}``."""
    from codex_core.errors import CodexError
    from codex_models.models.lora import is_lora, merge_lora
    from codex_models.models.model_dir import load_model_dir, read_summary, save_model_dir
    from codex_models.models.placement import describe

    if output.exists() and (not output.is_dir() or any(output.iterdir())):  # before loading the model
        raise CodexError(f"{output} already exists and is not an empty directory",
                         hint="choose another -o, or delete it first")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # stderr stays for errors and warnings
    model, tokenizer = load_model_dir(source)
    lora = is_lora(model)
    if adapter_only and not lora:
        raise CodexError(f"{source} has no LoRA adapter ({source / 'adapter'} is missing); nothing for --adapter-only",
                         hint="leave out --adapter-only to export the whole model")
    adapter_params = sum(p.numel() for name, p in model.named_parameters() if "lora_" in name)
    params = describe(model)["params"] - adapter_params  # the base model's (tied weights counted once)
    if lora and not adapter_only:
        model = merge_lora(model)  # in place: the loaded copy is ours, so no second copy is made
    save_model_dir(model, tokenizer, output, summary=read_summary(source), adapter_only=adapter_only)
    files = sorted(str(p.relative_to(output)) for p in output.rglob("*") if p.is_file())
    return {"path": str(output), "files": files, "params": params,
            "adapter_params": adapter_params, "merged": lora and not adapter_only, "adapter_only": adapter_only}
