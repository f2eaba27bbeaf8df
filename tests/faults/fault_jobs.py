"""What the fault tests share: a small real training job and ways to run it as ``codex train``
subprocesses and read what it wrote.

``Job.create(root)`` writes a corpus of Python-like files, a run config (a BPE tokenizer
trained on the corpus, so the tokenizer cache is exercised, a 2-layer GPT-2 of width 64,
windows of 64 tokens, 16 per step: about 0.1 s a step on 2 cores) and an environment whose
``CODEX_HOME`` and ``CODEX_RUNS_DIR`` are under ``root``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORDS = ["def", "return", "if", "else", "for", "in", "x", "y", "value", "items", "total", "+", "=", "(", ")", ":",
         "while", "print", "len", "range", "self", "None", "True", "import"]


def write_corpus(folder: Path, n_files: int = 24, lines: int = 60, seed: int = 0) -> Path:
    """Deterministic Python-like text files (about 1.5 kB each)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) for _ in range(lines))
        (folder / f"f{i:03d}.py").write_text(text + "\n", encoding="utf-8")
    return folder


def job_tree(corpus: Path, *, steps: int = 24) -> dict[str, Any]:
    return {
        "run": {"seed": 11},
        "tokenizer": {"name": "bpe", "params": {"vocab_size": 320, "files": [str(corpus / "*.py")]}},
        "data": {"name": "text", "params": {"paths": [str(corpus)]}, "split": {"train": 0.8, "val": 0.2, "test": 0.0}},
        "model": {"name": "gpt2", "params": {"n_layer": 2, "n_head": 2, "n_embd": 64, "n_positions": 64,
                                            "dropout": 0.1}},
        "loggers": [{"name": "csv"}],
        "trainer": {"max_steps": steps, "seq_len": 64, "micro_batch_size": 16, "lr": 1e-3, "min_lr": 1e-4,
                    "warmup_steps": 2, "log_every": 1, "eval_every": 5, "eval_batches": 2, "checkpoint_every": 3,
                    "keep_last": 2, "peak_flops": 1e12, "device": "cpu"},
        "telemetry": {"system_metrics": False},
    }


@dataclass
class Job:
    """A run config and the environment to run it in (``home``: the cache, ``runs``: the runs root)."""

    root: Path
    config: Path
    tree: dict[str, Any]
    env: dict[str, str] = field(repr=False)

    @classmethod
    def create(cls, root: Path, *, steps: int = 24, edit: Callable[[dict[str, Any]], None] | None = None) -> Job:
        root.mkdir(parents=True, exist_ok=True)
        tree = job_tree(write_corpus(root / "corpus"), steps=steps)
        if edit is not None:
            edit(tree)
        config = root / "run.yaml"
        config.write_text(json.dumps(tree, indent=1), encoding="utf-8")
        env = {**os.environ, "CODEX_HOME": str(root / "home"), "CODEX_RUNS_DIR": str(root / "runs"),
               "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        for name in ("CODEX_DEBUG", "CODEX_FAILPOINT", "WORLD_SIZE", "RANK", "LOCAL_RANK"):
            env.pop(name, None)
        return cls(root, config, tree, env)

    @property
    def home(self) -> Path:
        return Path(self.env["CODEX_HOME"])

    @property
    def runs(self) -> Path:
        return Path(self.env["CODEX_RUNS_DIR"])

    def with_home(self, home: Path) -> Job:
        """The same job with another cache folder (a fresh one: nothing cached yet)."""
        return Job(self.root, self.config, self.tree, {**self.env, "CODEX_HOME": str(home)})

    def start(self, name: str, *args: str, env: dict[str, str] | None = None,
              argv: list[str] | None = None, killed: bool = False) -> subprocess.Popen[str]:
        """``codex train -c CONFIG run.name=NAME ARGS`` in a subprocess (``argv`` replaces the
        ``codex`` command, e.g. ``[python, -m, codex_models.training]``); ``env`` is added.
        ``killed``: the process will be SIGKILLed, so a coverage measurement of the test run is
        not started in it (a killed process cannot save its data; tracing it only costs time)."""
        command = argv or [sys.executable, "-m", "codex_core"]
        prefix = ["train"] if argv is None else []
        full = [*command, *prefix, "-c", str(self.config), f"run.name={name}", *args]
        environment = {**self.env, **(env or {})}
        if killed:
            environment.pop("COVERAGE_PROCESS_CONFIG", None)
        # A background test runner leaves SIGINT ignored in children: give it its default back.
        return subprocess.Popen(full, env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def train(self, name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 300,
              argv: list[str] | None = None, killed: bool = False) -> tuple[int, str]:
        """Run ``codex train`` to its end: ``(exit status, standard error)``."""
        process = self.start(name, *args, env=env, argv=argv, killed=killed)
        _, err = process.communicate(timeout=timeout)
        return process.returncode, err


def rows(run: Path) -> list[dict[str, Any]]:
    """The complete rows of a run's metrics.ndjson."""
    path = run / "metrics.ndjson"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.endswith("}")]


def losses(run: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["metrics"]["train/loss"]) for r in rows(run) if "train/loss" in r["metrics"]]


def final_checkpoint(run: Path) -> Path:
    from codex_core.checkpoints import latest_checkpoint

    info = latest_checkpoint(run / "checkpoints")
    assert info is not None, f"{run} has no complete checkpoint"
    return info.path


def same_weights(a: Path, b: Path) -> bool:
    """Bit-identical model.safetensors tensors in two checkpoints."""
    import torch
    from safetensors.torch import load_file

    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def tree_hashes(root: Path, skip: Iterable[str] = ()) -> dict[str, str]:
    """The sha256 of every file under ``root`` (paths relative to it), for before/after checks."""
    from codex_core.fsutil import sha256_file

    skipped = tuple(skip)
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*"))
            if p.is_file() and not any(part in skipped for part in p.relative_to(root).parts)}


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str] | None = None,
             timeout: float = 240) -> None:
    """Poll ``condition`` (every 5 ms) until it holds; fail when ``process`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process ended first ({process.returncode}): {process.stderr.read()[-2000:]}"
                                 if process.stderr else f"the process ended first ({process.returncode})")
        if time.monotonic() > deadline:
            if process is not None:
                process.kill()
            raise AssertionError("timed out waiting")
        time.sleep(0.005)
