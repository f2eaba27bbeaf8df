"""The ``codex`` command line. ``main`` turns user errors into one line and exit status 2."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from codex_core.cli.app import cli, setup_logging
from codex_core.errors import CodexError

__all__ = ["cli", "main"]


def _verbosity(argv: Sequence[str]) -> tuple[int, int]:
    """Count -v/-q among the options before the sub-command."""
    verbose = quiet = 0
    for arg in argv:
        if not arg.startswith("-"):
            break
        if arg in ("--verbose", "--quiet"):
            verbose += arg == "--verbose"
            quiet += arg == "--quiet"
        elif arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) <= {"v", "q"}:
            verbose += arg.count("v")
            quiet += arg.count("q")
    return verbose + (2 if "--debug" in argv else 0), quiet


def _debug(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("CODEX_DEBUG", "") not in ("", "0")


def _ignore_logged_warnings() -> None:
    """Warnings that codex also logs (as ``codex: WARNING: ...``) are shown once: as the log line."""
    import warnings

    from codex_core.fanout import LoggerDisabledWarning

    warnings.filterwarnings("ignore", category=LoggerDisabledWarning)


def _write_error(exc: BaseException) -> CodexError | None:
    """An error whose OS error says where a file goes is the problem (a full disk, a file size
    limit, a read-only filesystem, no permission) and names the file, as one line: ``cannot
    write PATH: no space left on device; ...`` (``cannot access`` for permissions, which reading
    needs too). None for anything else."""
    import errno

    from codex_core.errors import os_errno, write_error

    found = os_errno(exc)
    verb = "access" if found is not None and found[0] in (errno.EACCES, errno.EPERM) else "write"
    return write_error(exc, verb=verb)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point of ``codex``."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug(args)
    setup_logging(*_verbosity(args))  # before plugins load, so their warnings obey -q
    _ignore_logged_warnings()
    try:
        result = cli.main(args=args, prog_name="codex", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CodexError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()  # output piped into `head`: not an error
        sys.exit(0)
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        written = _write_error(exc)
        if written is not None:  # a write no layer named: still the user's to fix (space, permissions)
            click.echo(f"error: {written}", err=True)
            sys.exit(written.exit_code)
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback, "
            "and report it with that output)",
            err=True,
        )
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
