"""``codex export``: write a model directory that ``transformers`` (and ``peft``) load offline
(:func:`codex_models.models.export.export_model`).

torch and transformers are imported only when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from codex_models.cli.run_option import model_source, run_options


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
    from codex_models.models.export import export_model

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
