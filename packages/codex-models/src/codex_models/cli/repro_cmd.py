"""``codex repro``: show a run's manifest, re-run a run to check it reproduces, and say why two
runs differ. RUN is a path, a run name or ``latest``."""

from __future__ import annotations

import click

_runs_dir = click.option("--runs-dir", type=click.Path(file_okay=False),
                         help="Runs root for RUN (default: $CODEX_RUNS_DIR or ./runs).")
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
def repro() -> None:
    """Check that runs reproduce. RUN is a path, a run name or `latest`."""


@repro.command("show")
@click.argument("run")
@_runs_dir
@_json
def show(run: str, runs_dir: str | None, as_json: bool) -> None:
    """The manifest of RUN, readable: run, seeds, config hash, data, tokenizer, model,
    environment, git. --json prints manifest.json as it is."""
    from codex_core.cli.output import echo_json
    from codex_core.runs import resolve_run
    from codex_models.repro.show import text_lines

    manifest = resolve_run(run, runs_dir).read_manifest()
    if as_json:
        echo_json(manifest)
        return
    for line in text_lines(manifest):
        click.echo(line)


@repro.command("check")
@click.argument("run")
@click.option("--steps", type=click.IntRange(min=1), metavar="N",
              help="Re-run the first N steps (default: up to the run's first checkpoint).")
@click.option("--keep", type=click.Path(file_okay=False), metavar="DIR",
              help="Re-run in DIR and keep it there (default: a temporary folder, removed after).")
@_runs_dir
@_json
@click.pass_context
def check(ctx: click.Context, run: str, steps: int | None, keep: str | None, runs_dir: str | None,
          as_json: bool) -> None:
    """Re-run the first N steps of RUN from its config and manifest (same data, tokenizer,
    seeds, world size and thread count) and compare: every logged metric row but the timing
    ones, the tokenizer and data fingerprints, and on CPU the weights of the largest checkpoint
    up to N, bit for bit.

    Exit status 0: identical; 1: differs; 2: cannot be checked (a data source missing or
    changed, other versions of torch, numpy, transformers, tokenizers, peft, the codex
    packages or the run's component plugins, a device this machine lacks).
    """
    from codex_core.cli.output import echo_json
    from codex_core.runs import resolve_run
    from codex_models.repro.check import check_run, report_lines

    found = resolve_run(run, runs_dir)
    result = check_run(found, steps, keep=keep, announce=lambda line: click.echo(line, err=True))
    if as_json:
        echo_json(result.to_json())
    else:
        for line in report_lines(result):
            click.echo(line)
    ctx.exit(result.exit_code)


@repro.command("diff")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@_runs_dir
@_json
def diff(run_a: str, run_b: str, runs_dir: str | None, as_json: bool) -> None:
    """Why RUN_A and RUN_B differ, most decisive first: config keys, seeds, data and tokenizer
    fingerprints, package versions, hardware, environment, git. Timestamps, names, paths and
    results are not differences. Always exits 0."""
    from codex_core.cli.output import echo_json
    from codex_core.runs import resolve_run
    from codex_models.repro.diff import diff_runs, text_lines

    differences = diff_runs(resolve_run(run_a, runs_dir), resolve_run(run_b, runs_dir))
    if as_json:
        echo_json({"differences": differences})
        return
    for line in text_lines(differences):
        click.echo(line)
