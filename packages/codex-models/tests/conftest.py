"""Shared fixtures for the training-engine tests: a tiny run config over synthetic text.

``train_config(**overrides)`` writes ``run.yaml`` (char tokenizer, a ``text`` dataset of
generated Python-like files, a 1-layer GPT-2 of width 32, seq_len 32, micro batch 4) and
returns ``(path, config)``; ``overrides`` are ``key.path=value`` pairs with ``__`` for dots
(``trainer__max_steps=5``). The cache and runs live under the test's tmp_path.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

WORDS = ["def", "return", "if", "else", "for", "in", "x", "y", "value", "items", "total", "+", "=", "(", ")", ":"]


def write_corpus(folder: Path, n_files: int = 12, lines: int = 40, seed: int = 0) -> Path:
    """Deterministic Python-like text files (about 1 kB each)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) for _ in range(lines))
        (folder / f"f{i:03d}.py").write_text(text + "\n", encoding="utf-8")
    return folder


def base_tree(corpus: Path) -> dict[str, Any]:
    return {
        "run": {"seed": 7},
        "tokenizer": {"name": "char"},
        "data": {"name": "text", "params": {"paths": [str(corpus)]}, "split": {"train": 0.8, "val": 0.2, "test": 0.0}},
        "model": {"name": "gpt2", "params": {"n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0}},
        "loggers": [{"name": "csv"}],
        "trainer": {"max_steps": 6, "seq_len": 32, "micro_batch_size": 4, "lr": 1e-3, "min_lr": 1e-4,
                    "warmup_steps": 2, "log_every": 1, "eval_every": 3, "eval_batches": 2, "checkpoint_every": 3,
                    "peak_flops": 1e12, "device": "cpu"},
        "telemetry": {"system_metrics": False},
    }


@pytest.fixture(scope="session")
def train_trees() -> Any:
    """``write_corpus(folder)`` and ``base_tree(corpus)``, for fixtures of a wider scope."""
    from types import SimpleNamespace

    return SimpleNamespace(write_corpus=write_corpus, base_tree=base_tree)


@pytest.fixture
def train_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """CODEX_HOME and CODEX_RUNS_DIR under tmp_path (set in this process; returned for subprocesses)."""
    env = {"CODEX_HOME": str(tmp_path / "home"), "CODEX_RUNS_DIR": str(tmp_path / "runs")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def train_config(tmp_path: Path, train_env: dict[str, str]) -> Callable[..., tuple[Path, Any]]:
    corpus = write_corpus(tmp_path / "corpus")

    def make(name: str = "run", tree: dict[str, Any] | None = None, **overrides: Any) -> tuple[Path, Any]:
        from codex_core.config import load_config

        path = tmp_path / f"{name}.yaml"
        path.write_text(json.dumps(tree or base_tree(corpus)), encoding="utf-8")
        items = [f"{k.replace('__', '.')}={json.dumps(v) if not isinstance(v, str) else v}"
                 for k, v in overrides.items()]
        return path, load_config(path, items).config

    return make


INSTALLED = {"tokenizers": "codex_tokenizers.plugin", "data": "codex_data.plugin", "models": "codex_models.plugin",
             "telemetry": "codex_telemetry.plugin"}


@pytest.fixture
def add_plugin(codex_plugin_manager: Any) -> Callable[..., Any]:
    """An isolated plugin manager holding the installed codex plugins; ``add_plugin(obj)``
    registers one more (a test's hook implementations) for this test only."""
    import importlib

    for name, module in INSTALLED.items():
        codex_plugin_manager.register(importlib.import_module(module), name)

    def add(plugin: Any, name: str | None = None) -> Any:
        return codex_plugin_manager.register(plugin, name or type(plugin).__name__)

    return add


@pytest.fixture
def codex_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``codex_cli(*args) -> (exit code, stdout, stderr)``: the ``codex`` CLI in this process
    (so plugins added with ``add_plugin`` take part); codex's log handlers are restored after."""
    import logging

    from codex_core.cli import main

    root = logging.getLogger("codex")
    saved = (root.handlers[:], root.level)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            root.handlers[:], level = saved
            root.setLevel(level)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def runs_io() -> Any:
    """Readers for what a run wrote: ``metrics_rows``, ``loss_curve``, ``weights``, ``same_weights``."""
    from types import SimpleNamespace

    return SimpleNamespace(metrics_rows=metrics_rows, loss_curve=loss_curve, weights=final_weights,
                           same_weights=same_weights)


def metrics_rows(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "metrics.ndjson").read_text().splitlines() if line.strip()]


def loss_curve(run: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["metrics"]["train/loss"]) for r in metrics_rows(run) if "train/loss" in r["metrics"]]


def final_weights(checkpoint: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(checkpoint / "model.safetensors"))


def same_weights(a: Path, b: Path) -> bool:
    import torch

    wa, wb = final_weights(a), final_weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def eval_tree(corpus: Path) -> dict[str, Any]:
    """The run the evaluation tests share: 2-layer GPT-2 (context 64) on 40 synthetic files,
    with a test split, trained for 30 steps."""
    tree = base_tree(corpus)
    tree["data"]["split"] = {"train": 0.7, "val": 0.15, "test": 0.15}
    tree["model"]["params"].update({"n_layer": 2, "n_positions": 64})
    tree["trainer"].update({"max_steps": 30, "eval_every": 15, "checkpoint_every": 15, "log_every": 5})
    return tree


@pytest.fixture(scope="session")
def eval_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny trained run (``eval_tree``) shared by the evaluation tests: its directory
    (with checkpoints of steps 15 and 30). Its CODEX_HOME and runs root live beside it
    (``eval_run.parent / "home"``); treat the run as read-only (copy it to change it)."""
    from codex_core.config import load_config
    from codex_models.training.run import run_training

    root = tmp_path_factory.mktemp("eval-run")
    corpus = write_corpus(root / "corpus", n_files=40, lines=30, seed=3)
    path = root / "run.yaml"
    tree = eval_tree(corpus)
    tree["run"]["name"] = "eval-run"
    path.write_text(json.dumps(tree), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CODEX_HOME", str(root / "home"))
        mp.setenv("CODEX_RUNS_DIR", str(root / "runs"))
        result = run_training(load_config(path).config)
    assert result.status == "completed", result
    return Path(result.run)


@pytest.fixture
def context() -> Any:
    """A build context over the installed plugins (what the evaluation tests build tasks and
    metrics with)."""
    from codex_core.context import BuildContext
    from codex_core.plugins import get_plugin_manager

    return BuildContext(registry=get_plugin_manager().registry)

