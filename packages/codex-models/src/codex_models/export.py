"""``codex export``: write a model directory that ``transformers`` (and ``peft``) load offline.

torch and transformers are imported only when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from codex_models.run_checkpoint import model_source, run_options


@click.command()
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="A model directory to export.")
@click.option("--checkpoint", "checkpoint_dir", type=click.Path(file_okay=False),
              help="A checkpoint directory to export (its trainer state is not copied).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="The directory to write; it must not exist (or be empty).")
@run_options
@click.option("--adapter-only", is_flag=True,
              help="Write only the LoRA adapter (PEFT format) with the tokenizer, instead of merging it.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def export(model_dir: str | None, checkpoint_dir: str | None, run: str | None, which: str, runs_dir: str | None,
           output: str, adapter_only: bool, as_json: bool) -> None:
    """Export a model, a checkpoint or a run's checkpoint (--run RUN --which best|last|N) as
    a Hugging Face model directory.

    The output holds model.safetensors, config.json, generation_config.json, tokenizer.json,
    tokenizer_config.json and a README model card; AutoModelForCausalLM.from_pretrained(OUT)
    and AutoTokenizer.from_pretrained(OUT) load it. LoRA adapters are merged into the
    weights unless --adapter-only.
    """
    # A checkpoint directory holds the model-directory files plus the trainer's state
    # (optimizer, RNG, data position); exporting reads only the model-directory files, so
    # today a checkpoint is loaded exactly like a model directory.
    source = model_source({"--model DIR": model_dir, "--checkpoint DIR": checkpoint_dir}, run, which, runs_dir)
    info = export_model(source, Path(output), adapter_only=adapter_only)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    what = "LoRA adapter" if adapter_only else "model"
    click.echo(f"wrote {what} to {info['path']} ({info['params']:,} parameters"
               + (f", {info['adapter_params']:,} in the adapter" if adapter_only else "")
               + (", LoRA merged" if info["merged"] else "") + ")")
    for name in info["files"]:
        click.echo(f"  {name}")


def export_model(source: Path, output: Path, *, adapter_only: bool = False) -> dict[str, Any]:
    """Load the model directory ``source`` and write it to ``output`` (LoRA merged unless
    ``adapter_only``); returns ``{"path", "files", "params", "adapter_params", "merged",
    "adapter_only"}``."""
    from codex_core.errors import CodexError
    from codex_models.lora import is_lora, merge_lora
    from codex_models.model_dir import load_model_dir, read_summary, save_model_dir
    from codex_models.placement import describe

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
