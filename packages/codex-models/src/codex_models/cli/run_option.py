"""``--run RUN [--which best|last|N]``: the checkpoint of a run that ``codex generate`` and
``codex export`` read.

RUN is a run directory, a run name under the runs root, or ``latest`` (see
:func:`codex_core.runs.resolve_run`). ``--which`` picks one of its complete checkpoints:

* ``best`` (the default): the run manifest's ``best_checkpoint`` (the best by the run's
  monitored metric, ``val/loss`` unless configured), else the last one;
* ``last``: the newest complete checkpoint whose files match their recorded sha256;
* ``N`` or ``step-N``: the checkpoint of step N.

Pure Python (no torch): the choice reads only ``manifest.json`` and ``checkpoint.json`` files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from codex_core.errors import CodexError

F = TypeVar("F", bound=Callable[..., Any])

WHICH_HELP = "Which checkpoint of --run: best (the manifest's best_checkpoint, else the last), last, or a step N."
_STEP = re.compile(r"^(?:step-)?0*(\d+)$")


def run_options(func: F) -> F:
    """The ``--run``, ``--which`` and ``--runs-dir`` options (parameters ``run``, ``which``,
    ``runs_dir``)."""
    func = click.option("--runs-dir", type=click.Path(file_okay=False),
                        help="Runs root for --run (default: $CODEX_RUNS_DIR or ./runs).")(func)
    func = click.option("--which", default="best", show_default=True, metavar="best|last|N", help=WHICH_HELP)(func)
    return click.option("--run", "run", metavar="RUN",
                        help="A run (path, name or `latest`): use one of its checkpoints, see --which.")(func)


def checkpoint_for_run(ref: str, which: str = "best", runs_dir: str | Path | None = None) -> Path:
    """The checkpoint directory of run ``ref`` chosen by ``which`` (``best``, ``last``, ``N``
    or ``step-N``); a :class:`CodexError` when the run has no such (complete) checkpoint."""
    from codex_core.checkpoints import latest_checkpoint
    from codex_core.runs import resolve_run

    run = resolve_run(ref, runs_dir)
    infos = run.checkpoints()
    if not infos:
        raise CodexError(f"run {run.name} has no complete checkpoint (in {run.checkpoints_dir})",
                         hint="train longer than trainer.checkpoint_every steps, or resume it with "
                              "codex train --resume auto --run-dir " + str(run.path))
    choice = which.strip().lower()
    if choice == "best":
        best = run.read_manifest().get("best_checkpoint")
        by_name = {info.path.name: info for info in infos}
        if isinstance(best, str) and best in by_name:
            return _verified(by_name[best].path)
        choice = "last"
    if choice == "last":
        latest = latest_checkpoint(run.checkpoints_dir)
        if latest is None:
            raise CodexError(f"run {run.name}: every checkpoint is incomplete or corrupted",
                             hint="see the warnings above; codex runs show " + run.name)
        return latest.path
    match = _STEP.match(choice)
    if match is None:
        raise CodexError(f"--which {which!r} is not best, last, a step number or step-N")
    step = int(match.group(1))
    for info in infos:
        if info.step == step:
            return _verified(info.path)
    raise CodexError(f"run {run.name} has no checkpoint of step {step}",
                     hint="its checkpoints: " + ", ".join(f"step {info.step}" for info in infos))


def _verified(path: Path) -> Path:
    from codex_core.checkpoints import read_checkpoint

    read_checkpoint(path, verify=True)
    return path


def model_source(paths: Mapping[str, str | None], run: str | None, which: str, runs_dir: str | None) -> Path:
    """The directory a command loads: one of ``paths`` (``{"--model DIR": value, ...}``, the
    command's path options) or the checkpoint of ``--run`` chosen by ``--which``. Exactly one
    source must be given."""
    options = {**paths, "--run RUN": run}
    given = [name for name, value in options.items() if value is not None]
    names = list(options)
    joined = f"{', '.join(names[:-1])} or {names[-1]}"
    if not given:
        raise CodexError(f"give {joined}")
    if len(given) > 1:
        raise CodexError(f"give only one of {joined} (got {' and '.join(given)})")
    if run is not None:
        return checkpoint_for_run(run, which, runs_dir)
    if which != "best":
        raise CodexError("--which chooses a checkpoint of a run; it needs --run RUN")
    return Path(str(options[given[0]]))
