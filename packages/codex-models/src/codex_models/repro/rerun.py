"""The re-run behind ``repro check``: the run's own config, stopped after N steps, trained by
``python -m codex_models.training`` in a runs root of its own.

What changes in the config, and why the numbers of the first N steps do not:

* ``trainer.max_tokens`` = the tokens the run had trained after step N (its ``train/tokens``
  there, else N x ``tokens_per_step``), so the re-run stops at step N while
  ``trainer.max_steps`` stays as it was: the learning rate is a function of the step and
  ``max_steps`` only (``training.optim.lr_at``; ``max_tokens`` sets its length only when
  ``max_steps`` is unset, and then ``max_steps`` is set to the length the run had);
* ``trainer.max_time`` = null; ``run.name``, ``run.runs_dir``: the temporary ones;
* ``loggers`` = [] (a re-run writes nothing to the run's MLflow or TensorBoard;
  ``metrics.ndjson`` is always written).

The process gets the run's thread count (``OMP_NUM_THREADS`` = ``hardware.cpu_threads``, and
the other thread variables as the run had them), the same ``CODEX_HOME`` (so the token cache
and trained tokenizers are found again), and no ``CODEX_DEBUG``. A run of several processes
is re-run by the launcher ``codex train --nproc`` uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_models.repro import facts

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.config import RunConfig

_LAUNCH = ("import sys; from codex_models.training.launch import launch; "
           "sys.exit(launch(int(sys.argv[1]), sys.argv[2:]))")
_PROCESS_ENV = ("CODEX_DEBUG", "CODEX_DIST_ERRORS", "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
                "GROUP_RANK", "ROLE_RANK", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")


@dataclass
class Rerun:
    path: Path
    """The re-run's run directory."""
    returncode: int
    log: Path
    seconds: float

    def error_line(self) -> str:
        """The line that says why the re-run failed (its ``error:`` line, else its last line)."""
        try:
            lines = [line.strip() for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines()]
        except OSError as exc:
            return f"(no log: {exc})"
        lines = [line for line in lines if line]
        errors = [line for line in lines if line.startswith(("error:", "internal error:"))]
        return (errors or lines or [f"exit status {self.returncode}"])[-1]


def rerun_tree(config: RunConfig, manifest: Mapping[str, Any], steps: int, *, name: str, runs_dir: Path,
               tokens_at_step: int | None = None) -> dict[str, Any]:
    """The config tree of a re-run of ``config`` that stops after ``steps`` steps (see the module)."""
    tree: dict[str, Any] = config.to_dict()
    trainer = tree["trainer"]
    per_step = int(manifest.get("tokens_per_step") or 0)
    if trainer.get("max_steps") is None and trainer.get("max_tokens") and per_step:
        trainer["max_steps"] = max(1, int(trainer["max_tokens"]) // per_step)  # the length the run's schedule had
    trainer["max_tokens"] = int(tokens_at_step) if tokens_at_step else steps * per_step
    trainer["max_time"] = None
    tree["run"].update({"name": name, "runs_dir": str(runs_dir)})
    tree["loggers"] = []
    return tree


def rerun_environment(manifest: Mapping[str, Any], runs_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PROCESS_ENV}
    env["CODEX_RUNS_DIR"] = str(runs_dir)
    recorded = facts.field(manifest, "environment.threads.env")
    if isinstance(recorded, Mapping):
        from codex_core.environment import THREAD_VARIABLES

        for key in THREAD_VARIABLES:
            env.pop(key, None)
        env.update({str(k): str(v) for k, v in recorded.items()})
    threads = facts.thread_count(manifest)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cublas = facts.field(manifest, "environment.torch.cublas_workspace_config")
    if cublas:
        env["CUBLAS_WORKSPACE_CONFIG"] = str(cublas)
    return env


def rerun_command(config_path: Path, world_size: int) -> list[str]:
    args = ["-c", str(config_path), "--json"]
    if world_size > 1:
        return [sys.executable, "-c", _LAUNCH, str(world_size), *args]
    return [sys.executable, "-m", "codex_models.training", *args]


def run_rerun(config: RunConfig, manifest: Mapping[str, Any], steps: int, workdir: Path, *, name: str,
              tokens_at_step: int | None = None) -> Rerun:
    """Train the re-run in ``workdir`` (its ``config.yaml``, ``rerun.log`` and ``runs/NAME``)
    and wait for it; the working directory stays this process's."""
    import yaml

    from codex_core.fsutil import atomic_write

    runs_dir = workdir / "runs"
    config_path = workdir / "config.yaml"
    tree = rerun_tree(config, manifest, steps, name=name, runs_dir=runs_dir, tokens_at_step=tokens_at_step)
    atomic_write(config_path, yaml.safe_dump(tree, sort_keys=False, allow_unicode=True))
    world = int(facts.field(manifest, "hardware.world_size") or 1)
    log = workdir / "rerun.log"
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        code = subprocess.run(rerun_command(config_path, world), env=rerun_environment(manifest, runs_dir),
                              stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    return Rerun(runs_dir / name, code, log, time.perf_counter() - started)
