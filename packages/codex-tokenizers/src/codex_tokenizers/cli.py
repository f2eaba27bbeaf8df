"""``codex tokenizer``: train, encode, decode and inspect tokenizer.json files."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

_tokenizer_file = click.option("-t", "--tokenizer", "path", required=True, type=click.Path(),
                               help="A tokenizer.json (or a directory holding one).")
_backend = click.option("--backend", type=click.Choice(["auto", "rust", "python"]), default="auto",
                        show_default=True, help="Engine (auto: rust when installed; also CODEX_TOKENIZER_BACKEND).")


@click.group()
def tokenizer() -> None:
    """Train, encode, decode and inspect tokenizers (Hugging Face tokenizer.json)."""


@tokenizer.command()
@click.option("--kind", type=click.Choice(["bpe", "wordpiece", "unigram"]), default="bpe", show_default=True,
              help="Model: byte-level BPE, WordPiece or Unigram.")
@click.option("--vocab-size", type=click.IntRange(min=1), default=8000, show_default=True)
@click.option("--min-frequency", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--special-tokens", metavar="A,B,...", help="Special tokens (default per kind).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="tokenizer.json to write.")
@click.option("--dataset", help="Train on a registered dataset (e.g. stdlib-code) instead of files.")
@click.option("--dataset-param", "dataset_params", multiple=True, metavar="KEY=VALUE",
              help="A param of that dataset (YAML value); repeatable.")
@click.option("--template", type=click.Choice(["auto", "none", "bos-eos", "cls-sep"]), default="auto",
              show_default=True, help="Special tokens around each text (auto: cls-sep for wordpiece).")
@click.argument("inputs", nargs=-1)
def train(kind: str, vocab_size: int, min_frequency: int, special_tokens: str | None, output: str,
          dataset: str | None, dataset_params: tuple[str, ...], template: str, inputs: tuple[str, ...]) -> None:
    """Train a tokenizer on INPUTS (files, directories, globs) or --dataset NAME."""
    from codex_core.config.overrides import apply_overrides
    from codex_core.errors import CodexError
    from codex_tokenizers.training import train as run_training

    if bool(inputs) == bool(dataset):
        raise CodexError("give training INPUTS or --dataset NAME (one of them)")
    params: dict[str, Any] = {}
    apply_overrides(params, list(dataset_params))
    specials = [s.strip() for s in special_tokens.split(",") if s.strip()] if special_tokens else None
    tok = run_training(kind, vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials,
                       inputs=inputs, dataset=dataset, dataset_params=params, output=output,
                       show_progress=sys.stderr.isatty(), template=template)
    click.echo(f"wrote {output}: {kind}, vocab size {tok.vocab_size}, fingerprint {tok.fingerprint()[:12]}")


@tokenizer.command()
@_tokenizer_file
@_backend
@click.option("--json", "as_json", is_flag=True, help="Print ids, tokens, offsets and attention mask as JSON.")
@click.option("--no-special-tokens", is_flag=True, help="Do not add the post-processor's special tokens.")
@click.argument("text", required=False)
def encode(path: str, backend: str, as_json: bool, no_special_tokens: bool, text: str | None) -> None:
    """Encode TEXT (or standard input with `-` or no TEXT)."""
    from codex_tokenizers.engine import load

    if text is None or text == "-":
        from codex_core.cli.output import read_stdin_text

        text = read_stdin_text()
    tok = load(path, backend)
    enc = tok.encode(text, add_special_tokens=not no_special_tokens)
    if as_json:
        click.echo(json.dumps({"backend": tok.backend, "ids": enc.ids, "tokens": enc.tokens,
                               "offsets": [list(o) for o in enc.offsets], "attention_mask": enc.attention_mask},
                              ensure_ascii=False))
        return
    click.echo(" ".join(map(str, enc.ids)))


@tokenizer.command()
@_tokenizer_file
@_backend
@click.option("--skip-special-tokens", is_flag=True, help="Leave special tokens out of the text.")
@click.argument("ids", nargs=-1, type=int, required=True)
def decode(path: str, backend: str, skip_special_tokens: bool, ids: tuple[int, ...]) -> None:
    """Decode token IDS back to text."""
    from codex_core.errors import CodexError
    from codex_tokenizers.engine import load

    tok = load(path, backend)
    bad = [i for i in ids if not 0 <= i < tok.vocab_size]
    if bad:
        raise CodexError(f"id {bad[0]} is outside the vocabulary (0..{tok.vocab_size - 1})")
    click.echo(tok.decode(ids, skip_special_tokens=skip_special_tokens))


@tokenizer.command()
@_tokenizer_file
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def inspect(path: str, as_json: bool) -> None:
    """Show the model, vocabulary size, pipeline, special tokens and engine support."""
    from codex_tokenizers.describe import describe

    info = describe(path)
    if as_json:
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    click.echo(f"file          {info['file']}")
    click.echo(f"model         {info['model']}")
    click.echo(f"vocab size    {info['vocab_size']}")
    for stage in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        click.echo(f"{stage:<13} {info['pipeline'][stage] or '-'}")
    specials = ", ".join(f"{t['content']}={t['id']}" for t in info["added_tokens"] if t["special"]) or "-"
    click.echo(f"specials      {specials}")
    for engine, status in info["engines"].items():
        click.echo(f"engine {engine:<6} {status}")
    click.echo(f"fingerprint   {info['fingerprint']}")
