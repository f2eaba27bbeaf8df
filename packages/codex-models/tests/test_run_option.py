"""``--run RUN --which best|last|N``: ``codex generate`` and ``codex export`` read a run's
checkpoint, the best (manifest ``best_checkpoint``) unless told otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codex_core.errors import CodexError
from codex_core.runs import RunDir
from codex_models import GPT2Params, build_gpt2
from codex_models.cli.run_option import checkpoint_for_run
from codex_models.models.model_dir import save_model_dir
from codex_models.training import checkpoint as ckpt

torch = pytest.importorskip("torch")

VAL_LOSS = {2: 3.0, 4: 2.0, 6: 2.5}
"""Checkpoints of the run and their val/loss: the best is step 4, the last step 6."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs root with one run ``demo`` holding three checkpoints of differently seeded
    tiny models, its manifest naming the best one as the trainer does."""
    from codex_tokenizers.training import train

    root = tmp_path_factory.mktemp("runs")
    tokenizer = train("bpe", vocab_size=280, texts=["def f(x):\n    return x + 1\n"] * 50)
    run = RunDir.create(root, "demo")
    for step, val_loss in VAL_LOSS.items():
        torch.manual_seed(step)
        model = build_gpt2(GPT2Params(n_layer=1, n_embd=32, n_head=2, n_positions=64, vocab_size=tokenizer.vocab_size))
        ckpt.save_checkpoint(run.checkpoints_dir, step,
                             write_model=lambda d, m=model: save_model_dir(m, tokenizer, d, merge=False),
                             trainer_state={}, rng_json={}, meta={"metrics": {"val/loss": val_loss}})
    infos = ckpt.list_checkpoints(run.checkpoints_dir)
    best = ckpt.best_checkpoints(infos, "val/loss", "min")[0]
    run.write_manifest({"status": "completed", "best_checkpoint": best.path.name,
                        "last_checkpoint": infos[-1].path.name})
    return root


def codex(runs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codex_core", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CODEX_RUNS_DIR": str(runs)})


@pytest.mark.parametrize(("which", "expected"), [
    ("best", "step-00000004"),
    ("last", "step-00000006"),
    ("2", "step-00000002"),
    ("step-6", "step-00000006"),
    ("step-00000004", "step-00000004"),
])
def test_which_picks_the_checkpoint(runs: Path, which: str, expected: str) -> None:
    assert checkpoint_for_run("demo", which, runs).name == expected


def test_latest_and_a_path_name_the_same_run(runs: Path) -> None:
    assert checkpoint_for_run("latest", "best", runs) == checkpoint_for_run(str(runs / "demo"), "best", None)


def test_best_falls_back_to_the_last_checkpoint_when_the_manifest_names_none(runs: Path, tmp_path: Path) -> None:
    import shutil

    copy = Path(shutil.copytree(runs / "demo", tmp_path / "copy"))
    RunDir(copy).write_manifest({"best_checkpoint": None})

    assert checkpoint_for_run(str(copy)).name == "step-00000006"


def test_a_missing_step_lists_the_checkpoints(runs: Path) -> None:
    with pytest.raises(CodexError, match="no checkpoint of step 5") as raised:
        checkpoint_for_run("demo", "5", runs)
    assert raised.value.hint == "its checkpoints: step 2, step 4, step 6"


def test_a_run_without_checkpoints_is_a_clear_error(tmp_path: Path) -> None:
    RunDir.create(tmp_path, "empty")
    with pytest.raises(CodexError, match="run empty has no complete checkpoint"):
        checkpoint_for_run("empty", "best", tmp_path)


def test_generate_run_samples_from_the_chosen_checkpoint(runs: Path) -> None:
    args = ["def ", "--max-new-tokens", "12", "--seed", "3", "--json"]
    by_run = codex(runs, "generate", "--run", "latest", "--which", "last", *args)
    by_path = codex(runs, "generate", "--model", str(runs / "demo" / "checkpoints" / "step-00000006"), *args)

    assert by_run.returncode == 0, by_run.stderr
    assert json.loads(by_run.stdout) == json.loads(by_path.stdout)


def test_export_run_writes_the_best_checkpoint(runs: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    out = codex(runs, "export", "--run", "demo", "-o", str(tmp_path / "out"), "--json")

    assert out.returncode == 0, out.stderr
    exported: dict[str, Any] = load_file(tmp_path / "out" / "model.safetensors")
    best = load_file(runs / "demo" / "checkpoints" / "step-00000004" / "model.safetensors")
    assert exported.keys() == best.keys()
    assert all(torch.equal(exported[k], best[k]) for k in best)


@pytest.mark.parametrize(("args", "message"), [
    (["generate", "--run", "demo", "--which", "7", "x"], "run demo has no checkpoint of step 7; its checkpoints: step 2, step 4, step 6"),
    (["generate", "--model", "M", "--run", "demo", "x"], "give only one of --model DIR or --run RUN"),
    (["generate", "--model", "M", "--which", "last", "x"], "--which chooses a checkpoint of a run; it needs --run"),
    (["export", "--run", "demo", "--which", "worst", "-o", "O"], "--which 'worst' is not best, last, a step number"),
])
def test_bad_run_options_are_one_line_and_exit_status_2(runs: Path, args: list[str], message: str) -> None:
    out = codex(runs, *args)

    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and message in out.stderr
