"""``codex plugins``: what is installed and whether it loaded."""

from __future__ import annotations

from typing import Any

import click

from codex_core._imports import import_object
from codex_core.cli.output import echo_json, echo_table
from codex_core.registry import KINDS

# Sub-commands kept in modules of their own, imported only when used (or listed by --help),
# so that `codex plugins list` stays as cheap as it was.
LAZY_SUBCOMMANDS = {
    "new": "codex_core.cli.plugins_new:new",
    "install": "codex_core.cli.plugins_install:install",
    "uninstall": "codex_core.cli.plugins_install:uninstall",
}


class _PluginsGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> Any:
        if cmd_name in LAZY_SUBCOMMANDS and cmd_name not in self.commands:
            self.add_command(import_object(LAZY_SUBCOMMANDS[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_PluginsGroup)
def plugins() -> None:
    """Inspect, scaffold, install and uninstall plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (one object per plugin).")
@click.option("--kind", type=click.Choice(KINDS), help="Only plugins with components of this kind.")
def list_plugins(as_json: bool, kind: str | None) -> None:
    """List plugins: distribution, version, status (ok, error, disabled, incompatible),
    error text and components by kind. Plugins that `codex plugins install` installed are
    marked (an INSTALLED BY column; "installed_by" in the JSON)."""
    from codex_core._compat import normalize
    from codex_core.plugins import INSTALLED_BY, get_plugin_manager, read_install_record

    manager = get_plugin_manager()
    record = read_install_record()
    entries = []
    for info in manager.infos():
        components = manager.component_table(info)
        if kind is not None:
            if kind not in components:
                continue
            components = {kind: components[kind]}
        marked = info.distribution is not None and normalize(info.distribution) in record
        entries.append(info.as_dict(components, installed_by=INSTALLED_BY if marked else None))
    if as_json:
        echo_json(entries)
        return
    if not entries:
        click.echo("no plugins" + (f" with {kind} components" if kind else " installed"))
        return
    # The INSTALLED BY column appears only when some plugin has the mark, as pip list's
    # editable-location column does, so the usual table keeps its columns.
    mark = any(e["installed_by"] for e in entries)
    rows = []
    for e in entries:
        comps = "; ".join(f"{k}: {', '.join(v)}" for k, v in e["components"].items())
        by = ("codex" if e["installed_by"] else "-",) if mark else ()
        rows.append((e["name"], e["distribution"] or "-", e["version"] or "-", e["status"], *by, comps))
    headers = ("NAME", "DISTRIBUTION", "VERSION", "STATUS", *(("INSTALLED BY",) if mark else ()), "COMPONENTS")
    echo_table(headers, rows)
    for e in entries:
        if e["error"]:
            click.echo(f"{e['name']}: {e['status']}: {e['error']}")
        for warning in e["warnings"]:
            click.echo(f"{e['name']}: warning: {warning}")
