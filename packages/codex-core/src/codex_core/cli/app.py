"""The ``codex`` click group: built-in sub-commands loaded lazily, plugin sub-commands,
and a helpful message for first-party commands whose package is not installed or did not load."""

from __future__ import annotations

import logging
from typing import Any

import click

from codex_core import __version__
from codex_core.errors import CodexError, did_you_mean

# Built-in sub-commands, imported only when used (or listed by --help).
BUILTINS = {
    "plugins": "codex_core.cli.plugins_cmd:plugins",
    "config": "codex_core.cli.config_cmd:config",
    "runs": "codex_core.cli.runs_cmd:runs",
    "cache": "codex_core.cli.cache_cmd:cache",
    "completion": "codex_core.cli.completion_cmd:completion",
}

PROVIDED_BY = {
    "train": "codex-models",
    "generate": "codex-models",
    "export": "codex-models",
    "eval": "codex-models",
    "repro": "codex-models",
    "models": "codex-models",
    "tokenizer": "codex-tokenizers",
    "data": "codex-data",
    "logs": "codex-telemetry",
}
"""First-party command -> the distribution meant to provide it. Used only to word the error
for a command that no loaded plugin provides: its distribution is not installed, or its plugin
did not load. Commands that exist, and who provides them, come from the plugins' entry points
(:attr:`CodexGroup.command_owners`), never from this table; it is not a promise that a
command exists (``codex --help`` lists only the ones that do)."""


def _plugin_manager() -> Any:
    from codex_core.plugins import get_plugin_manager

    return get_plugin_manager()


def _unavailable(name: str) -> CodexError | None:
    """Why the first-party command ``name`` is missing, when :data:`PROVIDED_BY` knows a
    reason: its distribution is not installed, or that distribution's plugin did not load.
    None otherwise (it is installed and loaded fine, and simply has no such command)."""
    from importlib.metadata import PackageNotFoundError, version

    dist = PROVIDED_BY.get(name)
    if dist is None:
        return None
    try:
        installed = version(dist)
    except PackageNotFoundError:
        return CodexError(f"`codex {name}` is provided by {dist}, which is not installed (pip install {dist})")
    failed = [i for i in _plugin_manager().infos() if i.distribution == dist and i.status != "ok"]
    if not failed:
        return None
    info = failed[0]
    return CodexError(
        f"`codex {name}` is provided by {dist} {installed}, whose plugin is {info.status}"
        + (f": {info.error}" if info.error else ""),
        hint="see codex plugins list",
    )


class CodexGroup(click.Group):
    """Resolves built-ins lazily and asks plugins for their commands only when needed."""

    reserved_names = frozenset(BUILTINS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command_owners: dict[str, str] = {}

    def _plugin_commands(self) -> None:
        _plugin_manager().add_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._plugin_commands()
        return sorted(set(BUILTINS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in BUILTINS and cmd_name not in self.commands:
            from codex_core._imports import import_object

            self.add_command(import_object(BUILTINS[cmd_name]), cmd_name)
        if cmd_name not in self.commands:
            self._plugin_commands()
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            reason = _unavailable(name)
            if reason is not None:
                raise reason
            known = self.list_commands(ctx) + [n for n in PROVIDED_BY if _unavailable(n) is not None]
            guess = did_you_mean(name, known)
            raise click.UsageError(
                f"no such command {name!r}" + (f"; did you mean {guess!r}?" if guess else "")
                + " (codex --help lists the commands)",
                ctx,
            )
        return super().resolve_command(ctx, args)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    import platform

    click.echo(f"codex-core {__version__}")
    for info in _plugin_manager().infos():
        status = "" if info.status == "ok" else f" [{info.status}]"
        click.echo(f"  plugin {info.name}: {info.distribution or '?'} {info.version or '?'}{status}")
    click.echo(f"python {platform.python_version()}")
    ctx.exit(0)


def setup_logging(verbose: int, quiet: int) -> None:
    """codex's log lines go to stderr as 'codex: LEVEL: message'; -v/-q move the level."""
    level = logging.WARNING - 10 * verbose + 10 * quiet
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("codex: %(levelname)s: %(message)s"))
    root = logging.getLogger("codex")
    root.handlers[:] = [handler]
    root.setLevel(max(logging.DEBUG, min(level, logging.CRITICAL)))


@click.group(cls=CodexGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Show codex-core's and every plugin's version.")
@click.option("-v", "--verbose", count=True, help="More output (repeat for debug logs).")
@click.option("-q", "--quiet", count=True, help="Less output: errors only.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors (also CODEX_DEBUG=1).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int, debug: bool) -> None:
    """Codex: train, fine-tune and evaluate small language models with plugins.

    Components (tokenizers, models, datasets, connectors, metrics, loggers) come from
    installed plugins: `codex plugins list` shows them. Shell completion:
    `codex completion bash` (or zsh, fish).
    """
    setup_logging(verbose + (2 if debug else 0), quiet)
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
