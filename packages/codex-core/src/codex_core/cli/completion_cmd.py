"""``codex completion SHELL``: print the shell completion script."""

from __future__ import annotations

import click


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL.

    Add `eval "$(codex completion bash)"` to ~/.bashrc (zsh: ~/.zshrc;
    fish: `codex completion fish | source`).
    """
    from click.shell_completion import get_completion_class

    from codex_core.cli.app import cli

    cls = get_completion_class(shell)
    assert cls is not None  # every listed choice has a class in click
    click.echo(cls(cli, {}, "codex", "_CODEX_COMPLETE").source())
