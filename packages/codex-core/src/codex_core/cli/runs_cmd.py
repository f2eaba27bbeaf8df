"""``codex runs``: list, show and remove run directories."""

from __future__ import annotations

from typing import Any

import click

from codex_core.cli.output import echo_json, echo_table, human_size

_runs_dir = click.option("--runs-dir", type=click.Path(file_okay=False),
                         help="Runs root (default: $CODEX_RUNS_DIR or ./runs).")


def _summary(run: Any) -> dict[str, Any]:
    manifest = run.read_manifest()
    last_step = None
    for row in run.read_metrics():
        last_step = row["step"]
    return {
        "name": run.name,
        "path": str(run.path),
        "status": manifest.get("status", "unknown"),
        "created_at": manifest.get("created_at"),
        "step": last_step,
        "config_hash": manifest.get("config_hash"),
        "locked": run.is_locked(),
    }


@click.group()
def runs() -> None:
    """List, inspect and remove runs. RUN is a path, a run name or `latest`."""


def _listed(run: Any) -> dict[str, Any]:
    """:func:`_summary` of one run of a listing; a damaged run (its manifest or metrics cannot
    be read) is listed as ``damaged``, with a warning saying why, instead of ending the listing."""
    import logging

    from codex_core.errors import RunDirError

    try:
        return _summary(run)
    except RunDirError as exc:
        logging.getLogger("codex").warning("run %s: %s", run.name, exc)
        return {"name": run.name, "path": str(run.path), "status": "damaged", "created_at": None, "step": None,
                "config_hash": None, "locked": run.is_locked(), "error": str(exc)}


@runs.command("list")
@_runs_dir
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_runs_cmd(runs_dir: str | None, as_json: bool) -> None:
    """List runs under the runs root, oldest first."""
    from codex_core.errors import RunDirError
    from codex_core.runs import list_runs, runs_root

    root = runs_root(runs_dir)
    if root.exists() and not root.is_dir():  # CODEX_RUNS_DIR naming a file
        raise RunDirError(f"the runs root {root} is a file, not a folder",
                          hint="point CODEX_RUNS_DIR (or --runs-dir) at a folder")
    items = [_listed(r) for r in list_runs(runs_dir)]
    if as_json:
        echo_json(items)
        return
    if not items:
        click.echo(f"no runs under {root}")
        return
    echo_table(("NAME", "STATUS", "CREATED", "STEP", "CONFIG"),
               [(i["name"], i["status"] + (" (running)" if i["locked"] else ""), i["created_at"],
                 i["step"], (i["config_hash"] or "")[:12]) for i in items])


@runs.command("show")
@click.argument("run")
@_runs_dir
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_run(run: str, runs_dir: str | None, as_json: bool) -> None:
    """Show a run's manifest, files and latest metrics."""
    from codex_core.runs import resolve_run

    found = resolve_run(run, runs_dir)
    info = {**_summary(found), "manifest": found.read_manifest(),
            "metrics": found.last_metrics(), "size_bytes": found.size_bytes()}
    if as_json:
        echo_json(info)
        return
    click.echo(f"run      {info['name']}  ({info['path']})")
    click.echo(f"status   {info['status']}{' (running)' if info['locked'] else ''}")
    click.echo(f"created  {info['created_at']}")
    click.echo(f"size     {human_size(info['size_bytes'])}")
    for key in ("config_hash", "git_sha", "codex_core_version", "python", "platform"):
        if info["manifest"].get(key):
            click.echo(f"{key:<8} {info['manifest'][key]}")
    if info["metrics"]:
        click.echo("metrics:")
        for name, m in sorted(info["metrics"].items()):
            click.echo(f"  {name} = {m['value']} (step {m['step']})")


@runs.command("rm")
@click.argument("run")
@_runs_dir
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def rm_run(run: str, runs_dir: str | None, yes: bool) -> None:
    """Delete a run directory (refused while a process is writing it)."""
    from codex_core.runs import remove_run, resolve_run

    found = resolve_run(run, runs_dir)
    if not yes:
        click.confirm(f"delete run {found.name} at {found.path}?", abort=True)
    remove_run(found)
    click.echo(f"removed {found.path}")
