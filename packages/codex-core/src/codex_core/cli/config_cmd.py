"""``codex config``: show, validate, diff run configs and print their JSON schema."""

from __future__ import annotations

from typing import Any

import click

from codex_core.cli.output import echo_json

_config_option = click.option(
    "-c", "--config", "config_file", type=click.Path(dir_okay=False),
    help="Run config YAML (default: the built-in default config).",
)
_overrides_arg = click.argument("overrides", nargs=-1)


@click.group()
def config() -> None:
    """Show, validate and compare run configs.

    Overrides are `key.path=value` (YAML values), `list+=item`, `list-=item` and `~key`,
    e.g. `trainer.lr=1e-3 loggers.0.name=csv 'trainer.betas=[0.9,0.95]'`.
    """


@config.command()
@_config_option
@_overrides_arg
@click.option("--sweep", "sweeps", multiple=True, metavar="KEY=V1,V2",
              help="Expand a grid; repeat for several keys. Each point gets a stable id.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
def show(config_file: str | None, overrides: tuple[str, ...], sweeps: tuple[str, ...], as_json: bool) -> None:
    """Print the resolved config (extends, ${env:VAR} and overrides applied)."""
    from codex_core.config import expand_sweeps, load_config

    points = expand_sweeps(sweeps)
    loaded = [(p, load_config(config_file, [*overrides, *p.overrides])) for p in points]
    if as_json:
        items = [{"id": p.id if sweeps else None, "overrides": list(p.overrides),
                  "hash": lc.config.hash(), "config": lc.config.to_dict()} for p, lc in loaded]
        echo_json(items if sweeps else items[0])
        return
    for i, (p, lc) in enumerate(loaded):
        if i:
            click.echo("---")
        if sweeps:
            click.echo(f"# sweep point {p.id}: {' '.join(p.overrides)}")
        click.echo(f"# config hash: {lc.config.hash()[:12]}  sources: {', '.join(lc.sources)}")
        click.echo(lc.config.to_yaml(), nl=False)


@config.command()
@click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), required=True,
              help="Run config YAML to check.")
@_overrides_arg
@click.option("--strict", is_flag=True, help="Components no installed plugin provides are errors.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate(config_file: str, overrides: tuple[str, ...], strict: bool, as_json: bool) -> None:
    """Check a config: keys, types, and each component's name and params."""
    from codex_core.config import load_config
    from codex_core.config.components import validate_components
    from codex_core.plugins import get_plugin_manager

    loaded = load_config(config_file, overrides)
    warnings = validate_components(loaded.config, get_plugin_manager().registry, strict=strict)
    if as_json:
        echo_json({"valid": True, "file": config_file, "hash": loaded.config.hash(), "warnings": warnings})
        return
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"ok: {config_file} is a valid run config (hash {loaded.config.hash()[:12]})")


@config.command()
@click.option("--core-only", is_flag=True, help="Leave out the installed components' params.")
def schema(core_only: bool) -> None:
    """Print the JSON schema of the run config, with every registered component's params."""
    from codex_core.config.components import json_schema
    from codex_core.plugins import get_plugin_manager

    echo_json(json_schema(None if core_only else get_plugin_manager().registry))


@config.command()
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff(a: str, b: str, as_json: bool) -> None:
    """Differences between two resolved configs (defaults filled in), key by key.

    A or B may be `default` for the built-in default config.
    """
    from codex_core.config import load_config
    from codex_core.config.components import flatten

    def load(path: str) -> dict[str, Any]:
        return flatten(load_config(None if path == "default" else path).config.to_dict())

    left, right = load(a), load(b)
    changes = [
        {"key": k, "a": left.get(k), "b": right.get(k),
         "change": "added" if k not in left else "removed" if k not in right else "changed"}
        for k in sorted(set(left) | set(right))
        if left.get(k, object()) != right.get(k, object())
    ]
    if as_json:
        echo_json(changes)
        return
    if not changes:
        click.echo("no differences")
    for c in changes:
        click.echo(f"{c['key']}: {c['a']!r} -> {c['b']!r}")
