"""``codex cache``: where the cache is, what it holds, and clearing it."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from codex_core.cli.output import echo_json, echo_table, human_size


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _cache_root() -> Path:
    """The cache root; a file there (a mistyped CODEX_HOME) is an error, not an empty cache."""
    from codex_core.errors import CodexError
    from codex_core.runs import cache_root

    root = cache_root()
    if root.exists() and not root.is_dir():
        raise CodexError(f"the cache root {root} is a file, not a folder",
                         hint="point CODEX_HOME at a folder (or unset it for ~/.cache/codex)")
    return root


@click.group()
def cache() -> None:
    """Inspect or clear the cache ($CODEX_HOME, default ~/.cache/codex)."""


@cache.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(as_json: bool) -> None:
    """Show the cache root and the size of each entry."""
    root = _cache_root()
    entries = sorted(root.iterdir()) if root.is_dir() else []
    sizes = {p.name: _size(p) for p in entries}
    total = sum(sizes.values())
    items = [{"name": name, "bytes": size} for name, size in sizes.items()]
    if as_json:
        echo_json({"path": str(root), "exists": root.is_dir(), "bytes": total, "entries": items})
        return
    click.echo(f"cache {root} ({'missing' if not root.is_dir() else human_size(total)})")
    if items:
        echo_table(("ENTRY", "SIZE"), [(name, human_size(size)) for name, size in sizes.items()])


@cache.command()
@click.argument("entries", nargs=-1)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def clear(entries: tuple[str, ...], yes: bool) -> None:
    """Delete the cache (or only the named ENTRIES of it)."""
    from codex_core.errors import CodexError

    root = _cache_root()
    if not root.is_dir():
        click.echo(f"cache {root} is already empty")
        return
    targets = [root / e for e in entries] if entries else sorted(root.iterdir())
    missing = [t.name for t in targets if not t.exists() or t.parent != root]
    if missing:
        raise CodexError(f"no cache entry {missing[0]!r} in {root}", hint="see codex cache info")
    if not yes:
        click.confirm(f"delete {len(targets)} entr{'y' if len(targets) == 1 else 'ies'} in {root}?", abort=True)
    for target in targets:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    click.echo(f"cleared {len(targets)} entr{'y' if len(targets) == 1 else 'ies'} from {root}")
