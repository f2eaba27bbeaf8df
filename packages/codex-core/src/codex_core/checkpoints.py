"""Reading a run's checkpoints: the one reader of the checkpoint marker format.

A checkpoint is a directory ``<run>/checkpoints/step-NNNNNNNN/`` written atomically by a
training engine (:func:`codex_core.fsutil.atomic_dir`). Its ``checkpoint.json``, written
last, is the completion marker: a directory without one is not a checkpoint. The marker
holds at least::

    {"step": 100, "tokens": 51200, "time": 1700000000.0,
     "metrics": {"val/loss": 2.31},
     "files": {"model.safetensors": "<sha256>", ...}}

(``files`` is the sha256 of every other file of the checkpoint), plus whatever else the
engine records (data position, config hash, world size, ...), and ``marker_sha256``, the
sha256 of the marker's own other fields (:func:`seal_marker`), so a changed byte in the
marker is found too (markers written before it have none and are read as they are).
Listing reads only the markers; verifying also hashes every file. Pure Python: no torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_core.errors import CodexError
from codex_core.fsutil import sha256_file

__all__ = ["MARKER", "PREFIX", "CheckpointError", "CheckpointInfo", "best_checkpoints", "latest_checkpoint",
           "list_checkpoints", "read_checkpoint", "seal_marker"]

log = logging.getLogger("codex.checkpoints")

MARKER = "checkpoint.json"
"""The completion marker's file name."""

PREFIX = "step-"
"""Checkpoint directory names start with it: ``step-00000100``."""


SEAL = "marker_sha256"
"""The marker's field holding the sha256 of its other fields."""


def _marker_digest(marker: dict[str, Any]) -> str:
    fields = {k: v for k, v in marker.items() if k != SEAL}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def seal_marker(marker: dict[str, Any]) -> dict[str, Any]:
    """``marker`` with its ``marker_sha256`` (JSON-ready values only: it is checked after a
    round trip through JSON)."""
    return {**{k: v for k, v in marker.items() if k != SEAL}, SEAL: _marker_digest(marker)}


class CheckpointError(CodexError):
    """A checkpoint is missing, incomplete, corrupted or does not fit this run."""


@dataclass
class CheckpointInfo:
    """A complete checkpoint on disk (its ``checkpoint.json``)."""

    path: Path
    meta: dict[str, Any] = field(repr=False)

    @property
    def step(self) -> int:
        return int(self.meta["step"])

    def metric(self, name: str) -> float | None:
        value = self.meta.get("metrics", {}).get(name)
        return float(value) if isinstance(value, int | float) else None


def read_checkpoint(path: str | Path, *, verify: bool = True) -> CheckpointInfo:
    """The checkpoint at ``path``; :class:`CheckpointError` when it is incomplete (no
    marker), unreadable, or (``verify``) a file is missing or its sha256 differs.

    Without ``verify`` only the marker is read, and it needs just an integer ``step``;
    verifying needs its ``files`` too."""
    path = Path(path)
    marker = path / MARKER
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist", hint="see codex runs show RUN for checkpoints")
    if not marker.is_file():
        # codex renames a checkpoint into place only once its marker is written, so a
        # directory under a final name without one had its marker removed (or was not made by codex).
        raise CheckpointError(f"checkpoint {path} is incomplete or damaged: it has no {MARKER}")
    try:
        meta = json.loads(marker.read_text(encoding="utf-8"))
        int(meta["step"])
        files = dict(meta["files"]) if verify or "files" in meta else {}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupted: {MARKER} is unreadable ({exc})") from None
    if SEAL in meta and meta[SEAL] != _marker_digest(meta):
        raise CheckpointError(f"checkpoint {path} is corrupted: {MARKER} does not match its own sha256")
    if verify:
        for name, digest in files.items():
            file = path / name
            if not file.is_file():
                raise CheckpointError(f"checkpoint {path} is corrupted: {name} is missing")
            if sha256_file(file) != digest:
                raise CheckpointError(f"checkpoint {path} is corrupted: the sha256 of {name} does not match")
    return CheckpointInfo(path, meta)


def list_checkpoints(checkpoints_dir: str | Path, *, verify: bool = False, warn: bool = False) -> list[CheckpointInfo]:
    """Complete checkpoints by step (oldest first). Incomplete or corrupted ones are
    skipped, with a warning each when ``warn``."""
    checkpoints_dir = Path(checkpoints_dir)
    found: list[CheckpointInfo] = []
    if not checkpoints_dir.is_dir():
        return found
    for path in sorted(checkpoints_dir.glob(f"{PREFIX}*")):
        try:
            found.append(read_checkpoint(path, verify=verify))
        except CheckpointError as exc:
            if warn:
                log.warning("skipping %s", exc)
    return sorted(found, key=lambda info: info.step)


def latest_checkpoint(checkpoints_dir: str | Path) -> CheckpointInfo | None:
    """The newest complete, verified checkpoint (newest first, so an older one is hashed
    only when a newer one is bad), or None."""
    candidates = list_checkpoints(checkpoints_dir, verify=False, warn=True)
    for info in reversed(candidates):
        try:
            return read_checkpoint(info.path, verify=True)
        except CheckpointError as exc:
            log.warning("skipping %s", exc)
    return None


def best_checkpoints(infos: Iterable[CheckpointInfo], monitor: str, mode: str) -> list[CheckpointInfo]:
    """Checkpoints that recorded ``monitor``, best first (ties: the newer first); ``mode``
    is ``"min"`` (lower is better) or ``"max"``."""
    scored = [(info.metric(monitor), info) for info in infos]
    valid = [(value, info) for value, info in scored if value is not None]
    sign = 1.0 if mode == "min" else -1.0
    return [info for _, info in sorted(valid, key=lambda pair: (sign * pair[0], -pair[1].step))]
