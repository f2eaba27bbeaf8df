"""Reading the records of W&B's local run files (``<dir>/wandb/*run-*-<id>/run-<id>.wandb``).

W&B writes every run, offline or online, to a local transaction log first: a LevelDB-style
log (a 7-byte ``:W&B`` header, then 32 KiB blocks of chunks, each ``crc32c, length, type``)
whose records are ``wandb.proto.wandb_internal_pb2.Record`` messages. A resumed run gets a
new folder (a *segment*) with the same run id; ``wandb sync`` uploads the segments in order.

The ``wandb`` logger reads them to find the last step a W&B run already holds (so a resumed
codex run does not send a step twice, even after a kill); the tests read history, config and
summary back from them. ``wandb`` is imported only to parse the records.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEADER = struct.Struct("<4sHB")  # ident, magic, version
CHUNK = struct.Struct("<IHB")  # crc32c, length, type
IDENT = b":W&B"
MAGIC = 0xBEE1
BLOCK_SIZE = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def raw_records(path: str | Path) -> Iterator[bytes]:
    """The serialized records of one ``.wandb`` file, in order. A record cut off at the end
    (a process killed while writing) is left out."""
    data = Path(path).read_bytes()
    if len(data) < HEADER.size:
        return
    ident, magic, _version = HEADER.unpack_from(data)
    if ident != IDENT or magic != MAGIC:
        raise ValueError(f"{path} is not a W&B run file (header {data[:HEADER.size]!r})")
    pos, pending = HEADER.size, b""
    while pos + CHUNK.size <= len(data):
        left_in_block = BLOCK_SIZE - pos % BLOCK_SIZE
        if left_in_block < CHUNK.size:  # a block's tail too short for a chunk header is padding
            pos += left_in_block
            continue
        _crc, length, kind = CHUNK.unpack_from(data, pos)
        pos += CHUNK.size
        if kind == 0 and length == 0:  # zeros: preallocated, never written
            pos += left_in_block - CHUNK.size
            continue
        if pos + length > len(data):
            return
        chunk = data[pos : pos + length]
        pos += length
        if kind == FULL:
            yield chunk
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            yield pending + chunk
            pending = b""


def records(path: str | Path) -> Iterator[Any]:
    """The records of one ``.wandb`` file as ``wandb_internal_pb2.Record`` messages."""
    from wandb.proto import wandb_internal_pb2

    for raw in raw_records(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        yield record


def run_files(wandb_parent: str | Path, run_id: str) -> list[Path]:
    """The ``.wandb`` files of the W&B run ``run_id`` under ``<wandb_parent>/wandb``, oldest
    segment first. A segment's folder is ``[offline-]run-<YYYYmmdd_HHMMSS>-<id>``, with ``-<n>``
    added when another segment started in the same second."""
    base = Path(wandb_parent) / "wandb"
    if not base.is_dir():
        return []
    pattern = re.compile(rf"(?:offline-)?run-(\d{{8}}_\d{{6}})-{re.escape(run_id)}(?:-(\d+))?")
    found = []
    for folder in base.iterdir():
        match = pattern.fullmatch(folder.name)
        if match and not folder.is_symlink() and (folder / f"run-{run_id}.wandb").is_file():
            found.append(((match.group(1), int(match.group(2) or 0)), folder / f"run-{run_id}.wandb"))
    return [path for _, path in sorted(found)]


def _key(item: Any) -> str:
    return item.key if item.key else ".".join(item.nested_key)


@dataclass
class RunRecords:
    """What the segments of one W&B run hold: ``history`` rows (``{"_step": n, name: value}``,
    each segment's rows in order), the ``config`` (key -> value) and the ``summary``."""

    history: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: list[Any] = field(default_factory=list)
    segments: int = 0

    @property
    def steps(self) -> list[int]:
        return [int(row["_step"]) for row in self.history]


def read_run(wandb_parent: str | Path, run_id: str) -> RunRecords:
    """History, config, summary and artifacts of the run ``run_id``, from all its segments."""
    out = RunRecords()
    for path in run_files(wandb_parent, run_id):
        out.segments += 1
        for record in records(path):
            kind = record.WhichOneof("record_type")
            if kind == "history":
                row = {_key(item): json.loads(item.value_json) for item in record.history.item}
                row["_step"] = record.history.step.num
                out.history.append(row)
            elif kind in ("run", "config"):
                config = record.run.config if kind == "run" else record.config
                for update in config.update:
                    out.config[_key(update)] = json.loads(update.value_json)
                for remove in config.remove:
                    out.config.pop(_key(remove), None)
            elif kind == "summary":
                for update in record.summary.update:
                    out.summary[_key(update)] = json.loads(update.value_json)
                for remove in record.summary.remove:
                    out.summary.pop(_key(remove), None)
            elif kind == "artifact":
                out.artifacts.append(record.artifact)
    return out


def last_step(wandb_parent: str | Path, run_id: str) -> int | None:
    """The highest history step the local segments of ``run_id`` hold, or None."""
    steps = [
        record.history.step.num
        for path in run_files(wandb_parent, run_id)
        for record in records(path)
        if record.WhichOneof("record_type") == "history"
    ]
    return max(steps) if steps else None
