"""Run one training job: pick (or resume) the run directory, train, record the outcome.

``codex train`` calls :func:`run_training`; under torchrun every process runs
``python -m codex_models.training ARGS`` (:mod:`codex_models.training.launch`), which parses
the same arguments as ``codex train`` and ends here too.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core.errors import CodexError
from codex_core.faults import check_failpoints, failpoint

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.config import RunConfig
    from codex_core.runs import RunDir
    from codex_models.training.parallel import Dist

log = logging.getLogger("codex.train")


@dataclass
class TrainResult:
    run: Path
    status: str
    step: int
    metrics: dict[str, float]
    elapsed_s: float
    signal: int | None = None
    """The signal that stopped the run (status ``stopped``), if one did."""


def run_training(config: RunConfig, *, resume: str | None = None, run_dir: str | None = None,
                 progress: bool = True) -> TrainResult:
    """Train ``config`` in a run directory (a new one, or the one being resumed)."""
    from codex_core.config.components import validate_components
    from codex_core.plugins import get_plugin_manager
    from codex_models.training.engine import Trainer
    from codex_models.training.parallel import init_distributed, lost_peer

    # Unknown components and bad params fail here, before a run directory exists.
    validate_components(config, get_plugin_manager().registry, strict=True)
    check_failpoints()  # a misspelt CODEX_FAILPOINT fails here, not never
    dist = init_distributed(config.trainer.device, timeout=config.trainer.dist_timeout)
    try:
        run, checkpoint = _open_run(config, dist, resume=resume, run_dir=run_dir)
        handler = _log_to_file(run) if dist.is_main else None
        bar = None
        if progress and dist.is_main:
            from codex_models.training.progress import Progress

            bar = Progress(console_logger=any(ref.name == "console" for ref in config.loggers))
        restart = resume is not None and checkpoint is None  # --resume auto found no checkpoint
        trainer = Trainer(config, run, dist, resume=str(checkpoint) if checkpoint else None, restart=restart,
                          progress=bar)
        status, started = "failed", time.time()
        try:
            _mark(run, dist, "running")
            failpoint("startup")
            trainer.setup()
            if dist.is_main:
                _record_setup(run, trainer)
            status = trainer.train()
        except _oom_errors() as exc:
            raise CodexError(
                f"out of memory at step {trainer.state.step} ({str(exc).splitlines()[0][:120]})",
                hint="lower trainer.micro_batch_size (raise grad_accum_steps to keep the global batch) or set "
                     "trainer.activation_checkpointing=true; the last checkpoint is intact",
            ) from None
        except Exception as exc:
            lost = lost_peer(exc, dist, trainer.state.step, run.checkpoints_dir)
            if lost is None:
                raise
            raise lost from None
        finally:
            if bar is not None:
                bar.close()
            # status "failed": an error is on its way out; failing to record it (a full disk) must not replace it
            _mark(run, dist, status, trainer, best_effort=status == "failed")
            trainer.cleanup()
            if handler is not None:
                logging.getLogger("codex").removeHandler(handler)
                handler.close()
            if dist.is_main:
                run.unlock()
        return TrainResult(run.path, status, trainer.state.step, dict(trainer.metrics), time.time() - started,
                           signal=trainer.stop_signal)
    finally:
        dist.shutdown()


def _oom_errors() -> tuple[type[BaseException], ...]:
    import torch

    return (torch.OutOfMemoryError,)


def _open_run(config: RunConfig, dist: Dist, *, resume: str | None, run_dir: str | None) -> tuple[RunDir, Path | None]:
    """The run directory and the checkpoint to resume from (None: start at step 0).

    Rank 0 decides (a fresh name has a timestamp) and creates/locks the directory; the
    other ranks get the path from it."""
    from codex_core.runs import RunDir

    decided: Any = None
    if dist.is_main:
        try:
            decided = _decide(config, resume=resume, run_dir=run_dir)
        except CodexError as exc:
            decided = exc
    decided = dist.broadcast_object(decided)
    if isinstance(decided, CodexError):
        raise decided
    path, checkpoint = Path(decided[0]), (Path(decided[1]) if decided[1] else None)
    if dist.is_main:
        previous = path / "config.yaml"  # replaced by this run's config below
        last_config = previous.read_text(encoding="utf-8") if checkpoint is not None and previous.is_file() else None
        run = RunDir.create(path.parent, path.name, config_yaml=config.to_yaml(), exist_ok=True,
                            manifest={"config_hash": config.hash(), "seed": config.run.seed,
                                      "description": config.run.description, "tags": config.run.tags})
        if last_config is not None and checkpoint is not None:
            _keep_changed_config(run, last_config, config, checkpoint)
    else:
        run = RunDir(path)
    dist.barrier()
    return run, checkpoint


def _keep_changed_config(run: RunDir, last_config: str, config: RunConfig, checkpoint: Path) -> None:
    """Resuming with a config other than the one the run last used (``last_config``, the
    text of the config.yaml this run replaced): warn with the changed keys, and keep the
    earlier config as ``config.until-step-N.yaml`` (N: the checkpoint's step)."""
    import yaml

    from codex_core.config.components import flatten
    from codex_core.fsutil import atomic_write
    from codex_models.training import checkpoint as ckpt

    try:
        before = flatten(yaml.safe_load(last_config) or {})
    except yaml.YAMLError as exc:
        log.warning("cannot read the config the run last used: %s", str(exc).splitlines()[0])
        before = {}
    after = flatten(config.to_dict())
    missing = object()
    changed = [k for k in sorted(set(before) | set(after)) if before.get(k, missing) != after.get(k, missing)]
    if not changed:
        return
    kept = run.path / f"config.until-step-{ckpt.read_info(checkpoint, verify=False).step:08d}.yaml"
    atomic_write(kept, last_config)
    shown = ", ".join(f"{k}: {before.get(k, '(unset)')!r} -> {after.get(k, '(unset)')!r}" for k in changed[:5])
    more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
    log.warning("resuming with a changed config: %s%s (the earlier config is kept in %s; codex config diff "
                "compares the two)", shown, more, kept)


def _decide(config: RunConfig, *, resume: str | None, run_dir: str | None) -> tuple[str, str | None]:
    from codex_core.runs import RunDir, runs_root
    from codex_models.training import checkpoint as ckpt

    if run_dir is not None:
        path = Path(run_dir)
    elif resume not in (None, "auto"):
        checkpoint = Path(str(resume))
        ckpt.read_info(checkpoint, verify=True)  # a bad checkpoint named explicitly is an error
        path = checkpoint.resolve().parent.parent
    elif config.run.name is not None:
        path = runs_root(config.run.runs_dir) / config.run.name
    elif resume == "auto":
        raise CodexError("--resume auto needs to know the run: set run.name (run.name=NAME) or --run-dir DIR")
    else:
        from codex_core.runs import new_run_name

        root = runs_root(config.run.runs_dir)
        path = root / new_run_name(root)
    run = RunDir(path)
    if run.is_locked():  # checked first: a second process on a run fails at once, naming the first
        from codex_core.fsutil import FileLock

        held = FileLock(run.path / ".lock").holder()
        raise CodexError(f"run directory {path} is in use by another process: pid {held.get('pid', '?')} on "
                         f"{held.get('host', '?')} (since {held.get('since', '?')})",
                         hint="wait for it to finish, or choose another run.name")
    if resume is None:
        if path.exists() and any(path.iterdir()):
            raise CodexError(f"run directory {path} already exists",
                             hint="resume it with --resume auto, choose another run.name, or remove it "
                                  "(codex runs rm)")
        return str(path), None
    if resume == "auto":
        info = ckpt.latest_checkpoint(run.checkpoints_dir)
        if info is None:
            log.warning("no complete checkpoint in %s: starting from step 0", path)
            if path.exists():
                from codex_core.fsutil import atomic_write

                if run.metrics_path.exists():
                    atomic_write(run.metrics_path, "")
            return str(path), None
        return str(path), str(info.path)
    return str(path), str(Path(str(resume)))


def _mark(run: RunDir, dist: Dist, status: str, trainer: Any = None, *, best_effort: bool = False) -> None:
    """Record ``status`` (and, given the trainer, where it ended) in the manifest. With
    ``best_effort`` a manifest that cannot be written (the disk that failed the run is full)
    is a warning, so the error that ended the run is the one reported."""
    if not dist.is_main:
        return
    update: dict[str, Any] = {"status": status}
    if trainer is not None:
        update.update({"final_step": trainer.state.step, "tokens": trainer.state.tokens,
                       "final_metrics": {k: v for k, v in trainer.metrics.items() if isinstance(v, float)},
                       "stop_reason": trainer.stop_reason})
    try:
        run.write_manifest(update)
    except Exception as exc:
        if not best_effort:
            raise
        log.warning("could not record status %r in %s (%s)", status, run.manifest_path, exc)


def _record_setup(run: RunDir, trainer: Any) -> None:
    """What the manifest records about the job: versions, hardware, data and tokenizer."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    from codex_models.models.placement import describe

    versions = {}
    for dist_name in ("codex-core", "codex-models", "codex-data", "codex-tokenizers", "codex-telemetry", "torch",
                      "transformers", "peft", "numpy"):
        try:
            versions[dist_name] = version(dist_name)
        except PackageNotFoundError:  # not installed: not recorded
            continue
    data = trainer.data
    cache = getattr(data, "cache", None)
    config = trainer.config
    manifest: dict[str, Any] = {
        "versions": versions,
        "hardware": {"device": str(trainer.device), "cpu_threads": torch.get_num_threads(),
                     "machine": platform.machine(),
                     "gpu": torch.cuda.get_device_name(trainer.device) if trainer.device.type == "cuda" else None,
                     "world_size": trainer.dist.world_size},
        "distributed": {"timeout_s": config.trainer.dist_timeout, "nnodes": trainer.dist.nnodes,
                        "world_size": trainer.dist.world_size},
        "seeds": {"run": config.run.seed, "data_split": config.data.split.seed},
        "deterministic": config.trainer.deterministic,
        "environment": _environment(),
        "components": _components(config, trainer.context.registry),
        "tokenizer": {"fingerprint": trainer.tokenizer.fingerprint(), "vocab_size": trainer.tokenizer.vocab_size},
        "model": describe(trainer.base_model),
        "tokens_per_step": data.tokens_per_step,
        "data": data.source.describe() if hasattr(data.source, "describe") else {},
    }
    if cache is not None:
        from codex_models.training.data import unigram_entropy

        manifest["data"].update({
            "token_cache": str(cache.path), "key": cache.manifest.key(), "train_tokens": cache.tokens("train"),
            "val_tokens": cache.tokens("val") if "val" in cache.manifest.splits else 0,
            "unigram_entropy": unigram_entropy(cache.split("train"), trainer.tokenizer.vocab_size)})
    run.write_manifest(json.loads(json.dumps(manifest, default=str)))


def _environment() -> dict[str, Any]:
    """codex_core.environment's record plus what only torch knows: its build (CUDA, cuDNN,
    MPS), the visible GPUs, its thread counts and whether deterministic algorithms are on."""
    import os

    import torch

    from codex_core.environment import environment

    env = environment()
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    mps = getattr(torch.backends, "mps", None)
    env["threads"].update({"torch": torch.get_num_threads(), "torch_interop": torch.get_num_interop_threads()})
    env["torch"] = {
        "version": torch.__version__, "cuda": torch.version.cuda, "cudnn": cudnn,
        "mps": bool(mps is not None and mps.is_available()),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if torch.cuda.is_available() else [],
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }
    return env


def _components(config: RunConfig, registry: Any) -> dict[str, Any]:
    """Which plugin (and distribution) provided each component the run uses."""
    from codex_core.plugins import get_plugin_manager

    dists = {info.name: info.distribution for info in get_plugin_manager().infos()}
    found: dict[str, Any] = {}
    for kind, key, ref in config.component_refs():
        spec = registry.get(kind, ref.name)
        found[key] = {"kind": kind, "name": spec.name, "plugin": spec.plugin, "distribution": dists.get(spec.plugin)}
    return found


class _RunLog(logging.FileHandler):
    """train.log's handler. A record it cannot write (a full disk) is reported once, as one
    warning line on stderr, and the file gets no more records; logging's default is a
    "--- Logging error ---" traceback per record."""

    failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        self.failed = True
        from codex_core.errors import write_error

        exc = sys.exc_info()[1]
        reason = write_error(exc, self.baseFilename) if exc is not None else None
        sys.stderr.write(f"codex: WARNING: {reason or f'cannot write {self.baseFilename}: {exc}'} "
                         "(the run's log stops here; the run goes on)\n")

    def close(self) -> None:
        try:
            super().close()
        except OSError:
            if not self.failed:
                raise
            # what could not be written was reported once by handleError; the log ended there


def _log_to_file(run: RunDir) -> logging.Handler:
    """Copy codex's log records of INFO and above into the run's train.log."""
    handler = _RunLog(run.log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger("codex")
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler
