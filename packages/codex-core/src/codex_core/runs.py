"""Run directories: layout, creation, lookup (``RUN`` = path, name or ``latest``), the
lock that keeps two processes out of one run, and ``metrics.ndjson``.

Layout of a run directory::

    config.yaml       the resolved run config
    manifest.json     what ran: versions, platform, git sha, config hash, seed, status
    metrics.ndjson    one JSON object per line (schema below), written by core itself
    train.log         the run's log
    checkpoints/      checkpoints written by the training engine (read: RunDir.checkpoints)
    artifacts/        anything else a run produces
    eval/<checkpoint>/<label>.json           codex eval's results, intervals, task config
    eval/<checkpoint>/<label>.samples.ndjson and its per-sample records (RunDir.evaluations)
    .lock             held while a process writes the run

``metrics.ndjson`` schema version 1: each line is
``{"v": 1, "step": <int>, "time": <unix seconds>, "metrics": {<name>: <number>}}``.
Lines are appended whole (a failed append is cut back); a reader ignores a torn last line.

Every write here that fails because of where the run is (a full disk, the file size limit, a
read-only filesystem, no permission) is a :class:`codex_core.errors.WriteError` naming the file.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core import __version__
from codex_core.errors import RunDirError, did_you_mean
from codex_core.fsutil import FileLock, append_whole, atomic_write, atomic_write_json, writing

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.checkpoints import CheckpointInfo

log = logging.getLogger("codex")

METRICS_SCHEMA_VERSION = 1
MANIFEST_SCHEMA_VERSION = 1
RUN_DIRS = ("checkpoints", "artifacts")


def runs_root(override: str | Path | None = None) -> Path:
    """The runs root: ``override``, else ``CODEX_RUNS_DIR``, else ``./runs``."""
    return Path(override or os.environ.get("CODEX_RUNS_DIR") or "runs")


def cache_root() -> Path:
    """The cache root: ``CODEX_HOME``, else ``~/.cache/codex``."""
    env = os.environ.get("CODEX_HOME")
    return Path(env) if env else Path.home() / ".cache" / "codex"


class RunDir:
    """One run directory. Create with :meth:`create`, find with :func:`resolve_run`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = FileLock(self.path / ".lock", what="run directory")

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    config_path = property(lambda self: self.path / "config.yaml")
    manifest_path = property(lambda self: self.path / "manifest.json")
    metrics_path = property(lambda self: self.path / "metrics.ndjson")
    log_path = property(lambda self: self.path / "train.log")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    artifacts_dir = property(lambda self: self.path / "artifacts")
    eval_dir = property(lambda self: self.path / "eval")

    # -- creation ---------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, name: str | None = None, *, config_yaml: str = "",
               manifest: Mapping[str, Any] | None = None, exist_ok: bool = False) -> RunDir:
        """Create (and lock) a run directory under ``root``. With no ``name`` a fresh
        timestamped name is made. The caller releases the lock with :meth:`unlock`."""
        root = Path(root)
        if name is None:
            name = new_run_name(root)
        _check_name(name)
        run = cls(root / name)
        if run.path.exists() and not exist_ok and any(run.path.iterdir()):
            raise RunDirError(
                f"run directory {run.path} already exists",
                hint="choose another run.name, remove it (codex runs rm), or resume it",
            )
        with writing(run.path):
            run.path.mkdir(parents=True, exist_ok=True)
        run.lock()
        for sub in RUN_DIRS:
            with writing(run.path / sub):
                (run.path / sub).mkdir(exist_ok=True)
        if config_yaml or not run.config_path.exists():
            atomic_write(run.config_path, config_yaml)
        for empty in (run.metrics_path, run.log_path):
            if not empty.exists():
                atomic_write(empty, "")
        run.write_manifest({**default_manifest(name), **dict(manifest or {})})
        return run

    def lock(self) -> RunDir:
        """Take the run's lock; another process holding it is a clear error with its pid."""
        self._lock.acquire()
        return self

    def unlock(self) -> None:
        self._lock.release()

    def is_locked(self) -> bool:
        return self._lock.is_locked()

    # -- manifest -----------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.manifest_path.read_text()))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise RunDirError(f"{self.manifest_path} is not valid JSON: {exc}") from None

    def write_manifest(self, updates: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``updates`` into manifest.json (written atomically) and return it."""
        manifest = {**self.read_manifest(), **dict(updates)}
        atomic_write_json(self.manifest_path, manifest)
        return manifest

    # -- metrics ------------------------------------------------------------------------
    def log_metrics(self, step: int, metrics: Mapping[str, float], *, when: float | None = None) -> None:
        """Append one row to metrics.ndjson (a whole line, or nothing: :func:`append_whole`)."""
        row = {
            "v": METRICS_SCHEMA_VERSION,
            "step": int(step),
            "time": round(when if when is not None else time.time(), 3),
            "metrics": {k: _json_number(v) for k, v in metrics.items()},
        }
        line = json.dumps(row, separators=(",", ":"), allow_nan=False) + "\n"
        append_whole(self.metrics_path, line.encode("utf-8"))

    def read_metrics(self) -> Iterator[dict[str, Any]]:
        """Rows of metrics.ndjson; a torn or foreign last line is skipped. A line that is not
        UTF-8 text before the last one means the file is damaged: a :class:`RunDirError`."""
        if not self.metrics_path.exists():
            return
        with open(self.metrics_path, "rb") as handle:
            lines = enumerate(handle, 1)
            for number, raw in lines:
                try:
                    row = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    if next(lines, None) is None:  # a torn last line
                        return
                    raise RunDirError(f"{self.metrics_path} is damaged: line {number} is not UTF-8 text",
                                      hint="restore it, or remove the run (codex runs rm)") from None
                except ValueError:
                    continue
                if not isinstance(row, dict) or "step" not in row:
                    continue
                if row.get("v", METRICS_SCHEMA_VERSION) > METRICS_SCHEMA_VERSION:
                    raise RunDirError(
                        f"{self.metrics_path} has rows of schema v{row['v']}, newer than this "
                        f"codex-core reads (v{METRICS_SCHEMA_VERSION})",
                        hint="upgrade codex-core",
                    )
                yield row

    def truncate_metrics(self, after_step: int) -> int:
        """Drop rows with ``step > after_step`` (on resume); returns how many were dropped."""
        rows = list(self.read_metrics())
        kept = [r for r in rows if r["step"] <= after_step]
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in kept)
        atomic_write(self.metrics_path, text)
        return len(rows) - len(kept)

    def last_metrics(self) -> dict[str, Any]:
        """The latest value of every metric, with the step it was logged at."""
        latest: dict[str, Any] = {}
        for row in self.read_metrics():
            for key, value in row.get("metrics", {}).items():
                latest[key] = {"value": value, "step": row["step"]}
        return latest

    # -- checkpoints --------------------------------------------------------------------
    def checkpoints(self, *, verify: bool = False, warn: bool = False) -> list[CheckpointInfo]:
        """The run's complete checkpoints, oldest first (see :mod:`codex_core.checkpoints`):
        those with a ``checkpoint.json`` marker; with ``verify`` also every file's sha256.
        Incomplete or corrupted ones are skipped, with a warning each when ``warn``."""
        from codex_core.checkpoints import list_checkpoints

        return list_checkpoints(self.checkpoints_dir, verify=verify, warn=warn)

    # -- evaluations --------------------------------------------------------------------
    def evaluations(self) -> list[dict[str, Any]]:
        """The result files ``codex eval`` wrote (``eval/<checkpoint>/<label>.json``), by
        checkpoint then label; each dict has at least ``label``, ``checkpoint``, ``results``
        and ``ci``. A file that cannot be read is skipped with a warning."""
        found: list[dict[str, Any]] = []
        if not self.eval_dir.is_dir():
            return found
        for path in sorted(self.eval_dir.glob("*/*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("skipping unreadable evaluation %s: %s", path, exc)
                continue
            if isinstance(data, dict) and isinstance(data.get("results"), dict):
                data.setdefault("label", path.stem)
                data.setdefault("checkpoint", path.parent.name)
                data.setdefault("ci", {})
                found.append(data)
        return found

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def _json_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    number = float(value)
    return number if math.isfinite(number) else None


def _check_name(name: str) -> None:
    if not name or name in {".", "..", "latest"} or "/" in name or "\\" in name:
        raise RunDirError(
            f"invalid run name {name!r}",
            hint="use letters, digits, '-', '_' and '.', not 'latest' or a path",
        )


def new_run_name(root: str | Path) -> str:
    """A fresh timestamped run name, ``run-YYYYmmdd-HHMMSS`` (with ``-2``, ``-3``, ... when
    that name is taken under ``root``); ``root / new_run_name(root)`` is the new run's path."""
    root = Path(root)
    base = time.strftime("run-%Y%m%d-%H%M%S")
    name, n = base, 1
    while (root / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def default_manifest(name: str) -> dict[str, Any]:
    """The manifest fields core records for every run."""
    from codex_core.environment import git_state

    git = git_state()
    return {
        "schema": MANIFEST_SCHEMA_VERSION,
        "name": name,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "created_ts": time.time(),
        "status": "created",
        "codex_core_version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "argv": sys.argv,
        "git_sha": git["sha"],
        "git": git,
    }


def git_sha(cwd: str | Path | None = None) -> str | None:
    """The commit of the git checkout around ``cwd`` (None outside one or without git)."""
    from codex_core.environment import git_state

    sha: str | None = git_state(cwd)["sha"]
    return sha


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "manifest.json").exists() or (path / "config.yaml").exists())


def list_runs(root: str | Path | None = None) -> list[RunDir]:
    """Run directories under the runs root, oldest first."""
    root = runs_root(root)
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if is_run_dir(p)]
    return sorted(runs, key=_created)


def _created(run: RunDir) -> tuple[float, str]:
    try:
        ts = float(run.read_manifest().get("created_ts", 0.0))
    except RunDirError:
        ts = 0.0
    return (ts or run.path.stat().st_mtime, run.name)


def resolve_run(ref: str | Path, root: str | Path | None = None) -> RunDir:
    """A run from a path, a run name under the runs root, or ``latest``."""
    root = runs_root(root)
    ref_str = str(ref)
    if ref_str == "latest":
        runs = list_runs(root)
        if not runs:
            raise RunDirError(f"no runs under {root}", hint="start one with codex train, or set CODEX_RUNS_DIR")
        return runs[-1]
    path = Path(ref)
    for candidate in (path, root / ref_str):
        if is_run_dir(candidate):
            return RunDir(candidate)
    names = [r.name for r in list_runs(root)]
    guess = did_you_mean(ref_str, names)
    raise RunDirError(
        f"no run {ref_str!r} (not a run directory, nor a run under {root})"
        + (f"; did you mean {guess!r}?" if guess else ""),
        hint="list runs with codex runs list",
    )


def remove_run(run: RunDir) -> None:
    """Delete a run directory (refused while another process holds its lock)."""
    if run.is_locked():
        holder = FileLock(run.path / ".lock").holder()
        raise RunDirError(
            f"run {run.name} is in use by pid {holder.get('pid', '?')}",
            hint="stop that process first",
        )
    shutil.rmtree(run.path)
