"""``codex models``: the model families and their presets.

Everything here is computed from the presets' plain dicts (:mod:`codex_models.models.presets`),
so listing never imports torch or transformers, nor builds a model.
"""

from __future__ import annotations

import json

import click


@click.group()
def models() -> None:
    """Model families, presets, sizes and memory estimates."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {family, preset, params, memory, config}.")
def list_presets(as_json: bool) -> None:
    """List every preset of every family with its parameter count and memory estimate.

    Memory is for the weights at fp32 and bf16, and for AdamW training at fp32 (weights,
    gradients and two moments: 16 bytes a parameter; activations come on top).
    """
    from codex_models.models.presets import catalog

    rows = catalog()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'family':<7} {'preset':<15} {'params':>9} {'fp32':>9} {'bf16':>9} {'adamw fp32':>11}")
    for row in rows:
        mem = row["memory"]
        click.echo(f"{row['family']:<7} {row['preset']:<15} {_count(row['params']):>9} "
                   f"{_bytes(mem['weights_fp32']):>9} {_bytes(mem['weights_bf16']):>9} "
                   f"{_bytes(mem['train_adamw_fp32']):>11}")


def _count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n}B"
