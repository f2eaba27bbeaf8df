"""Failpoints: named places where a process can be made to die on purpose, to prove that
what codex writes survives a crash at exactly that place.

``CODEX_FAILPOINT=<name>:<n>`` (several separated by commas) makes the process SIGKILL
itself the ``n``-th time it reaches the point ``name``; a line on standard error says so
first (``failpoint step:3: killing this process``). Unset, a failpoint costs one
dictionary lookup. The points (:data:`POINTS`) are fixed, so a typo is an error rather than
a point that is never reached::

    CODEX_FAILPOINT=checkpoint-marker:1 codex train run.name=demo   # dies writing a checkpoint
    codex train run.name=demo --resume auto                          # continues from the last one

The fault tests (``tests/faults/``) drive real ``codex train`` processes through every point.
"""

from __future__ import annotations

import os
import signal
import sys

from codex_core.errors import ConfigError

__all__ = ["ENV", "POINTS", "check_failpoints", "failpoint", "parse_failpoints"]

ENV = "CODEX_FAILPOINT"

POINTS: dict[str, str] = {
    "startup": "the run directory is created, locked and marked running; nothing is built yet",
    "step": "in the middle of a training step: gradients computed, the optimizer not yet stepped",
    "eval": "in the middle of an evaluation: after each validation batch",
    "checkpoint-file": "after each file of a checkpoint is written into its temporary directory",
    "checkpoint-marker": "a checkpoint's marker is written, its temporary directory not yet renamed",
    "checkpoint-commit": "a checkpoint is renamed into place; old ones not yet pruned, the manifest not updated",
    "token-cache-shard": "after each token-cache shard is written (the cache not yet renamed into place)",
    "tokenizer-cache": "a tokenizer is trained and its cache file not yet written",
}
"""Every failpoint, with where it is."""

_hits: dict[str, int] = {}
_parsed: tuple[str, dict[str, int]] | None = None


def parse_failpoints(value: str) -> dict[str, int]:
    """``"step:3,eval:1"`` -> ``{"step": 3, "eval": 1}``; a :class:`ConfigError` naming what
    is wrong otherwise."""
    plan: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, count = item.partition(":")
        if name not in POINTS:
            raise ConfigError(f"{ENV} names an unknown failpoint {name!r}", hint=f"use one of {', '.join(POINTS)}")
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(f"{ENV} item {item!r} needs a count of at least 1", hint=f"write it as {name}:N")
        plan[name] = int(count)
    return plan


def check_failpoints() -> None:
    """Raise the :class:`ConfigError` of a malformed ``CODEX_FAILPOINT`` now (a process
    checks it as it starts, so a misspelt point is an error rather than never reached)."""
    parse_failpoints(os.environ.get(ENV, ""))


def failpoint(name: str) -> None:
    """Count a visit of ``name``; SIGKILL this process at the visit ``CODEX_FAILPOINT`` names."""
    global _parsed
    value = os.environ.get(ENV)
    if not value:
        return
    if name not in POINTS:  # a programming error: every call site uses a listed name
        raise ValueError(f"unknown failpoint {name!r}")
    if _parsed is None or _parsed[0] != value:
        _parsed = (value, parse_failpoints(value))
        _hits.clear()
    want = _parsed[1].get(name)
    if want is None:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == want:
        sys.stderr.write(f"failpoint {name}:{want}: killing this process\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
