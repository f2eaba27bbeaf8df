"""``codex plugins new``: scaffold a complete plugin distribution (:mod:`codex_core.scaffold`)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from codex_core.cli.output import echo_json
from codex_core.scaffold.render import DEFAULT_KINDS, SCAFFOLD_KINDS

EXAMPLES = """\b
Examples:
  codex plugins new codex-shapes                          # a metric
  codex plugins new codex-shapes --kind tokenizer,model,metric -o plugins/
  codex plugins new codex-shapes --kind all --json
"""


def _pip_argument(path: Path) -> str:
    """``PATH[test]`` for ``pip install -e``, spelled as a path (``./name``), so that pip can
    never take it for a project on an index; quoted for the shell."""
    text = str(path)
    if not path.is_absolute() and not text.startswith("."):
        text = "./" + text
    return shlex.quote(f"{text}[test]")


@click.command("new", epilog=EXAMPLES)
@click.argument("name")
@click.option("--kind", "kinds", multiple=True, metavar="KIND[,KIND...]",
              help=f"What the plugin provides, one working example each: {', '.join(SCAFFOLD_KINDS)} "
                   f"(comma-separated or repeated), or all. Default: {','.join(DEFAULT_KINDS)}.")
@click.option("-o", "--output", "parent", default=".", metavar="DIR",
              help="The folder in which the plugin's folder NAME is made. Default: the current folder.")
@click.option("--json", "as_json", is_flag=True,
              help="Print {path, distribution, module, entry_point, components, files} as JSON.")
def new(name: str, kinds: tuple[str, ...], parent: str, as_json: bool) -> None:
    """Create the plugin distribution NAME: a folder DIR/NAME ready to pip install, test and
    publish, with a working example of each component KIND, its params model and its tests.

    NAME is the distribution name (letters, digits, '-', '_', '.'), written in lowercase with
    '-'. Everything else is derived from it: the import name is NAME with '_' for '-'
    (codex-shapes: codex_shapes); the plugin's name in the codex entry-point group, the name of
    its command and the prefix of its component names are NAME without a leading 'codex-'
    (shapes: components shapes-match, shapes-bytes, ..., command `codex shapes`), so they do not
    clash with the built-in ones. The folder must not exist, or be empty; it is written
    completely or not at all.
    """
    from codex_core.scaffold import create, parse_kinds

    chosen = parse_kinds(kinds) if kinds else DEFAULT_KINDS
    made = create(name, chosen, Path(parent))
    if as_json:
        echo_json(made.as_dict())
        return
    names = made.names
    click.echo(f"created {made.path}: distribution {names.distribution}, import name {names.module}, "
               f"plugin {names.entry_point}")
    for kind, found in made.components.items():
        shown = [f"codex {n}" for n in found] if kind == "command" else found
        click.echo(f"  {kind:<10} {', '.join(shown)}")
    click.echo(f"files ({len(made.files)}):")
    for relative in made.files:
        click.echo(f"  {relative}")
    click.echo("next:")
    click.echo(f"  pip install -e {_pip_argument(made.path)}")
    click.echo(f"  pytest {shlex.quote(str(made.path / 'tests'))}")
    click.echo(f"  codex plugins list        # {names.entry_point} is listed, status ok")
