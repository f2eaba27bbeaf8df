"""The ``wandb`` logger: a run's config, metrics, summary and artifact references in a
Weights & Biases run, offline by default.

Offline (the default) the W&B run is written to files under ``<run dir>/wandb/`` and no
network is touched; ``wandb sync <run dir>/wandb/offline-run-*`` uploads it later.
``WANDB_MODE`` in the environment wins over the ``mode`` param, as W&B documents. W&B's
console capture, its own system-metrics sampler (codex-telemetry's sampler logs
``system/*`` to every logger), code saving and ``requirements.txt`` are off, and it prints
nothing (``silent``); its ``wandb-core`` service ends with the process. ``wandb`` is imported when
the logger is built (extra ``codex-telemetry[wandb]``).

One W&B run per codex run: the W&B run id is kept in ``<run dir>/wandb_run.json``, and a
logger built for a run directory that has one continues that W&B run (``resume="allow"``,
a new segment with the same id). W&B cannot delete logged steps, so a resumed run does not
send again the steps the W&B run already holds: the last history step in the run's local
W&B files (:mod:`.wandb_records`; what survived a kill), or online without local files the
server's, is the *held* step, and metrics of steps up to it are left out (an exact resume
logs the same values for them anyway). Steps up to the checkpoint that the W&B files lack
(killed before W&B's service wrote them) are sent from ``metrics.ndjson`` at resume.
``wandb_run.json`` also records the last step sent (written every ``STATE_EVERY_S`` seconds,
at resume and at close); a failure to write it raises, so the fan-out disables the logger
with one warning.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import string
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core.errors import ComponentError
from codex_core.fsutil import atomic_write_json
from codex_telemetry._closing import Closing
from codex_telemetry.params import WandbLoggerParams

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.context import BuildContext

log = logging.getLogger("codex.telemetry")

RUN_FILE = "wandb_run.json"
DEFAULT_PROJECT = "codex"
MODES = ("offline", "online", "disabled")
ENV_MODES = {"offline": "offline", "dryrun": "offline", "online": "online", "run": "online", "disabled": "disabled"}
STATE_EVERY_S = 5.0
"""Seconds between writes of ``wandb_run.json`` while metrics are logged (and at resume and close)."""
# manifest status -> exit code of the W&B run at close (W&B marks a run with a non-zero code failed)
FAILED_STATUSES = ("failed", "error")


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as W&B config entries with dotted keys (``{"trainer": {"lr": 3e-4}}``
    -> ``{"trainer.lr": 0.0003}``); values stay as they are (lists, numbers, strings, None)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, prefix=f"{name}."))
        elif isinstance(value, (str, bool, int, float)) or value is None:
            flat[name] = value
        else:
            flat[name] = json.loads(json.dumps(value, default=str))
    return flat


def new_run_id() -> str:
    """A new W&B run id: 8 random lowercase letters and digits, like W&B's own."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def artifact_name(text: str) -> str:
    """``text`` as a W&B artifact name: letters, digits, ``-``, ``_`` and ``.`` only."""
    return re.sub(r"[^\w\-.]", "_", text)[:128] or "_"


def resolve_mode(param: str) -> str:
    """``WANDB_MODE`` when set (``dryrun`` is ``offline``, ``run`` is ``online``), else ``param``."""
    env = os.environ.get("WANDB_MODE", "").strip()
    if not env:
        return param
    if env.lower() not in ENV_MODES:
        raise ComponentError(
            f"logger 'wandb': WANDB_MODE={env!r} is not a W&B mode",
            hint="set WANDB_MODE to offline, online or disabled, or unset it",
        )
    return ENV_MODES[env.lower()]


def _import_wandb() -> Any:
    """The ``wandb`` module, or a ComponentError naming the extra."""
    try:
        import wandb
    except ImportError as exc:
        raise ComponentError(
            f"logger 'wandb' needs the wandb package ({type(exc).__name__}: {exc})",
            hint="pip install codex-telemetry[wandb]",
        ) from exc
    return wandb


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None for what is not one (None, strings, NaN, inf)."""
    if value is None or isinstance(value, str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class WandbLogger(Closing):
    """Logs to a W&B run (implements ``codex_core.protocols.Logger``).

    * ``log_params``: the nested config flattened to dotted keys (``trainer.lr``) as the
      W&B run config.
    * ``log_metrics``: one history row per step, at that step (W&B's ``_step`` is the codex
      step); values that are not finite numbers are left out. Steps the W&B run already
      holds (see the module docstring) are not sent again; a late value for such a step
      (``codex eval`` of an earlier checkpoint) goes to the run summary instead.
    * ``log_artifact``: a *reference* artifact (``file://``, nothing copied) of a file or
      folder.
    * ``close``: the summary (W&B keeps each metric's final value; this adds ``best/<name>``
      and ``best_step/<name>``, from ``metrics.ndjson`` when there is a run directory), reference
      artifacts of the complete checkpoints (type ``model``) and of ``eval/`` (type
      ``evaluation``), then the W&B run ends (failed when the manifest says the run failed).
    """

    def __init__(self, params: WandbLoggerParams | None = None, context: BuildContext | None = None) -> None:
        params = params if params is not None else WandbLoggerParams()
        self.params = params
        run_dir = context.run_dir if context is not None else None
        self.run_dir = Path(run_dir).resolve() if run_dir is not None else None
        if params.dir is None and self.run_dir is None:
            raise ComponentError(
                "logger 'wandb': no folder to write to (no 'dir' param and no run directory)",
                hint="set params.dir, e.g. {name: wandb, params: {dir: wandb-runs}}",
            )
        state = self._read_state()
        # the folder named by params.dir, else the one this run's W&B run was written to, else the run dir
        chosen = params.dir if params.dir is not None else state.get("dir")
        folder = Path(chosen).expanduser() if isinstance(chosen, str) and chosen else Path(".")
        if self.run_dir is not None and not folder.is_absolute():
            folder = self.run_dir / folder
        self.dir = folder.resolve()
        self.mode = resolve_mode(params.mode)
        self.project = params.project or os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT
        self.entity = params.entity or os.environ.get("WANDB_ENTITY") or None
        self.name = params.name or (self.run_dir.name if self.run_dir is not None else None)
        self.closed = False
        self._rows: list[tuple[int, dict[str, float]]] = []  # what was logged here (the summary outside a run)
        self._late: dict[str, float] = {}
        self._replaying = False
        self._saved_at = 0.0
        wandb = _import_wandb()

        known_id = state.get("run_id") if state.get("project", self.project) == self.project else None
        self.resumed_run = isinstance(known_id, str) and bool(known_id)
        run_id = known_id if self.resumed_run else new_run_id()
        self.held_step = self._held_step(run_id) if self.resumed_run else None
        self._floor = self.held_step + 1 if self.held_step is not None else 0  # the lowest step W&B still takes
        self.last_step = self.held_step
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._run = wandb.init(
                id=run_id, resume="allow", project=self.project, entity=self.entity, name=self.name,
                tags=list(params.tags) or None, group=params.group, notes=params.notes, dir=str(self.dir),
                mode=self.mode, reinit="create_new", settings=self._settings(wandb),
            )
        except Exception as exc:
            raise ComponentError(
                f"logger 'wandb': cannot start the W&B run in {self.mode} mode in {self.dir} "
                f"({type(exc).__name__}: {exc})",
                hint="check params.dir is writable; for online mode run `wandb login` or set WANDB_API_KEY, "
                     "or use mode offline",
            ) from exc
        self.run_id = run_id
        if self.mode == "online" and self.held_step is None and self._run.step > 1:
            self.held_step = self._run.step - 1  # no local files: the server's history
            self._floor = self._run.step
            self.last_step = self.held_step
        self._save_state_or_end()

    # -- the Logger protocol ----------------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Set the W&B run config to ``params`` flattened to dotted keys."""
        self._check()
        self._run.config.update(flatten_config(params), allow_val_change=True)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """One history row at ``step`` (values at the same step are merged into it)."""
        self._check()
        numbers = {str(k): n for k, v in metrics.items() if (n := _number(v)) is not None}
        step = int(step)
        if not numbers:
            return
        if self.held_step is not None and step <= self.held_step:
            if not self._replaying:  # a late value (an evaluation of an earlier checkpoint)
                self._late.update(numbers)
            return
        # a step below one this logger sent (another thread raced the training loop): the current row
        step = max(step, self._floor)
        self._run.log(numbers, step=step)
        self._floor, self.last_step = step, step
        self._rows.append((step, numbers))
        if time.monotonic() - self._saved_at >= STATE_EVERY_S:
            self._save_state_or_end()

    def log_artifact(self, path: str | Path, name: str | None = None) -> None:
        """A reference artifact (``file://``) of a file or folder, named ``name`` or after it."""
        self._check()
        path = Path(path).resolve()
        if not path.exists():
            raise FileNotFoundError(f"wandb logger: no artifact at {path}")
        self._log_reference(artifact_name(name or path.name), "file", [(path, path.name, True)])

    def resume(self, step: int) -> None:
        """The run continues from ``step``: the steps after it that the W&B run already holds
        are left out when the engine logs them again (W&B cannot delete them), and the steps up
        to ``step`` that it does not hold are sent from ``metrics.ndjson`` first (see
        :meth:`_backfill`)."""
        self._check()
        self._replaying = True
        self._rows = [(s, m) for s, m in self._rows if s <= step]
        self._backfill(step)
        self._save_state_or_end()

    def describe(self) -> str:
        """The banner line: ``wandb: offline run <id> in <dir>/wandb (upload: wandb sync ...)``."""
        resumed = ", resumed" if self.resumed_run else ""
        if self.mode == "disabled":
            return "wandb: disabled"
        if self.mode == "online":
            return f"wandb: online run {self.run_id} ({self._run.url or self.project}{resumed})"
        return (f"wandb: offline run {self.run_id} in {self.dir / 'wandb'}{resumed} "
                f"(upload: wandb sync {self.dir / 'wandb'}/offline-run-*-{self.run_id}*)")

    def flush(self) -> None:
        """Record the last step sent in ``wandb_run.json``."""
        self._check()
        self._save_state_or_end()

    def close(self) -> None:
        """Write the summary and the artifact references, end the W&B run and record the last
        step sent in ``wandb_run.json``; later calls other than ``close`` are errors."""
        if self.closed:
            return
        self.closed = True
        failed = False
        try:
            if self.run_dir is not None:
                failed = str(self._read_json(self.run_dir / "manifest.json").get("status", "")).lower() in FAILED_STATUSES
                self._log_run_outputs()
            self._run.summary.update(self._summary())
        finally:
            self._run.finish(exit_code=1 if failed else 0)
        self._save_state()

    def _backfill(self, step: int) -> None:
        """Send the rows of ``metrics.ndjson`` after the held step and up to ``step``, merged
        per step, in order. A process killed with SIGKILL takes with it the rows W&B's service
        had not written to the run files yet; metrics.ndjson (written before the loggers are
        called) has them, so the W&B run still gets every step once."""
        if self.run_dir is None:
            return
        from codex_core.runs import RunDir

        low = self.held_step if self.held_step is not None else -1
        merged: dict[int, dict[str, Any]] = {}
        for row in RunDir(self.run_dir).read_metrics():
            if low < int(row["step"]) <= step:
                merged.setdefault(int(row["step"]), {}).update(row.get("metrics", {}))
        if not merged:
            return
        replaying, self._replaying = self._replaying, False
        try:
            for at in sorted(merged):
                self.log_metrics(merged[at], step=at)
        finally:
            self._replaying = replaying
        log.info("wandb: sent steps %d-%d from metrics.ndjson (the W&B run's files did not hold them)",
                 min(merged), max(merged))

    # -- W&B ----------------------------------------------------------------------------
    @staticmethod
    def _settings(wandb: Any) -> Any:
        """Quiet, offline-friendly settings: no console capture, no W&B system sampler (codex's
        sampler logs system/*), no code, git or requirements collection, no banner output."""
        return wandb.Settings(
            silent=True, console="off", x_disable_stats=True, x_disable_meta=True, save_code=False,
            disable_git=True, x_save_requirements=False, disable_job_creation=True,
        )

    def _log_reference(self, name: str, kind: str, entries: list[tuple[Path, str, bool]]) -> None:
        """Log an artifact of ``file://`` references: ``(path, name in the artifact, checksum)``.
        Without checksum a folder is one reference (its files are not read)."""
        import wandb

        artifact = wandb.Artifact(name, type=kind)
        for path, entry_name, checksum in entries:
            artifact.add_reference(path.as_uri(), name=entry_name, checksum=checksum)
        self._run.log_artifact(artifact)

    def _log_run_outputs(self) -> None:
        """Reference artifacts of the run directory's complete checkpoints and of ``eval/``."""
        from codex_core.runs import RunDir

        assert self.run_dir is not None
        run = RunDir(self.run_dir)
        base = artifact_name(self.name or self.run_dir.name)
        checkpoints = [info.path.resolve() for info in run.checkpoints(warn=True)]
        if checkpoints:  # references without checksums: gigabytes of weights are neither read nor copied
            self._log_reference(f"{base}-checkpoints", "model", [(p, p.name, False) for p in checkpoints])
        eval_dir = run.eval_dir
        results = sorted(p for p in eval_dir.rglob("*") if p.is_file()) if eval_dir.is_dir() else []
        if results:
            self._log_reference(f"{base}-eval", "evaluation",
                                [(p.resolve(), p.relative_to(eval_dir).as_posix(), True) for p in results])

    def _summary(self) -> dict[str, Any]:
        """The best value of every metric and its step (``best/<name>``, ``best_step/<name>``),
        from metrics.ndjson when there is one (the whole run, across resumes), the last step
        (``codex/step``), status and best checkpoint, and the late values. The final value of
        each metric is W&B's own summary entry (``<name>``: the last value logged)."""
        from codex_telemetry.cli import summarize_rows

        rows: list[dict[str, Any]] = []
        manifest: dict[str, Any] = {}
        if self.run_dir is not None:
            from codex_core.runs import RunDir

            rows = list(RunDir(self.run_dir).read_metrics())
            manifest = self._read_json(self.run_dir / "manifest.json")
        if not rows:
            rows = [{"step": step, "metrics": metrics} for step, metrics in self._rows]
        summary: dict[str, Any] = {}
        for name, entry in summarize_rows(rows).items():  # W&B's summary keeps each metric's last value
            if entry["best"] is not None:
                summary[f"best/{name}"], summary[f"best_step/{name}"] = entry["best"], entry["best_step"]
        summary.update(self._late)
        if rows:
            summary["codex/step"] = rows[-1]["step"]
        for key in ("status", "best_checkpoint"):
            if manifest.get(key):
                summary[f"codex/{key}"] = manifest[key]
        return summary

    # -- the state file -------------------------------------------------------------------
    def _read_state(self) -> dict[str, Any]:
        if self.run_dir is None:
            return {}
        return self._read_json(self.run_dir / RUN_FILE)

    def _held_step(self, run_id: str) -> int | None:
        """The last step the W&B run holds: the highest history step in its local run files
        (what reached them: a row still pending in W&B's service when a process was killed did
        not, and is sent again), or None."""
        from codex_telemetry.wandb_records import last_step

        try:
            return last_step(self.dir, run_id)
        except (OSError, ValueError) as exc:
            raise ComponentError(
                f"logger 'wandb': cannot read the W&B run files of run {run_id} in {self.dir / 'wandb'} "
                f"({type(exc).__name__}: {exc})",
                hint=f"move the damaged offline-run-*-{run_id} folder away, or delete {RUN_FILE} to start a new W&B run",
            ) from exc

    def _save_state(self) -> None:
        if self.run_dir is None:
            return
        try:  # relative to the run directory when inside it, so a moved run directory still finds it
            folder = self.dir.relative_to(self.run_dir).as_posix()
        except ValueError:
            folder = str(self.dir)
        atomic_write_json(self.run_dir / RUN_FILE, {
            "run_id": self.run_id, "project": self.project, "entity": self.entity, "mode": self.mode,
            "dir": folder, "last_step": self.last_step,
        })
        self._saved_at = time.monotonic()

    def _save_state_or_end(self) -> None:
        """Save the state; when that fails, end the W&B run (marked failed) and raise, so the
        fan-out disables this logger with one warning."""
        try:
            self._save_state()
        except Exception:
            self.closed = True
            self._run.finish(exit_code=1)
            raise

    @staticmethod
    def _read_json(path: Path) -> dict[str, Any]:
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    # -- helpers ----------------------------------------------------------------------
    def _check(self) -> None:
        if self.closed:
            raise ValueError(f"wandb logger for run {self.run_id} is closed")

    def __repr__(self) -> str:
        return f"WandbLogger(mode={self.mode!r}, dir={str(self.dir)!r}, run_id={getattr(self, 'run_id', None)!r})"
