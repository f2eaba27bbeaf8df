"""``codex data``: the datasets and connectors that are installed."""

from __future__ import annotations

import json

import click


@click.group()
def data() -> None:
    """Datasets, connectors and prepared token caches."""


@data.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_components(as_json: bool) -> None:
    """List the installed datasets and connectors (from every plugin)."""
    from codex_core.plugins import get_plugin_manager

    registry = get_plugin_manager().registry
    rows = [{"kind": spec.kind, "name": spec.name, "aliases": list(spec.aliases), "plugin": spec.plugin,
             "description": spec.description}
            for kind in ("dataset", "connector") for spec in registry.list(kind)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no datasets or connectors installed")
        return
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        click.echo(f"{row['kind']:<10} {row['name']:<{width}}  {row['description']} ({row['plugin']})")
