"""Acceptance: ``codex train`` with no arguments trains the built-in default job (a small
code model on the standard library's source, BPE trained on the fly) into a complete run
directory, the model visibly learns, ``codex generate --run latest "def "`` writes code, ``codex eval --run latest`` scores
the test split and the standard library's doctest problems, and ``codex repro check latest``
re-runs the first 800 steps to the same metrics and the same weights, bit for bit.

It runs the whole default job (a few minutes on two CPU cores), so it is marked slow.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "configs"
SEEDS = (0, 1, 2, 3, 4)
GAP_NATS = 1.5
"""How far the final validation loss must be below the unigram entropy of the training
split: the loss of a model that learned token frequencies and nothing else."""


def codex(*args: str, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codex_core", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def parses(line: str) -> bool:
    try:
        ast.parse(line.strip())
    except SyntaxError:
        return False
    return True


def looks_like_code(prompt: str, sample: str) -> bool:
    """The generated text itself (not the prompt) says ``def`` or ``return``, and what
    ``codex generate`` printed (the prompt, then the sample) has a line, not blank and not
    only a comment, that ``ast.parse`` accepts."""
    output = prompt + sample
    lines = [line for line in output.splitlines() if line.strip() and not line.strip().startswith("#")]
    return ("def" in sample or "return" in sample) and any(parses(line) for line in lines)


@pytest.mark.slow
def test_codex_train_without_arguments_learns_and_generates_code(tmp_path: Path) -> None:
    env = {**os.environ, "CODEX_HOME": str(tmp_path / "home"), "CODEX_RUNS_DIR": str(tmp_path / "runs")}
    for name in ("CODEX_LOAD_PLUGINS", "CODEX_DISABLE_PLUGINS"):
        env.pop(name, None)

    trained = codex("train", cwd=tmp_path, env=env, timeout=1200)

    assert trained.returncode == 0, trained.stderr[-3000:]
    (run,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert (run / "config.yaml").read_text().startswith("run:")
    rows = [json.loads(line) for line in (run / "metrics.ndjson").read_text().splitlines()]
    assert any("train/loss" in row["metrics"] for row in rows)
    with open(run / "metrics.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) > 0
    checkpoints = sorted((run / "checkpoints").glob("step-*"))
    assert checkpoints and all((c / "checkpoint.json").is_file() for c in checkpoints)
    assert manifest["best_checkpoint"] in {c.name for c in checkpoints}

    val_loss = [row["metrics"]["val/loss"] for row in rows if "val/loss" in row["metrics"]][-1]
    entropy = manifest["data"]["unigram_entropy"]
    assert val_loss <= entropy - GAP_NATS, f"val/loss {val_loss:.3f}, unigram entropy {entropy:.3f}"

    samples = []
    for seed in SEEDS:
        out = codex("generate", "--run", "latest", "def ", "--seed", str(seed), "--json", cwd=tmp_path, env=env,
                    timeout=300)
        assert out.returncode == 0, out.stderr
        samples.append(json.loads(out.stdout)["text"])
    good = [s for s in samples if looks_like_code("def ", s)]
    assert len(good) >= 3, "\n---\n".join(samples)

    evaluated = codex("eval", "--run", "latest", "--max-samples", "8", "--json", cwd=tmp_path, env=env, timeout=900)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.loads(evaluated.stdout)
    ppl, code = report["results"]["perplexity"], report["results"]["code-completion"]
    assert 1 <= ppl["documents"] == report["samples"]["perplexity"] <= 8  # the test split has a few files
    assert ppl["bits_per_byte"] > 0 and ppl["loss"] < entropy
    assert 0.0 <= code["pass@1"] <= 1.0 and report["samples"]["code-completion"] == 8
    assert report["info"]["code-completion"]["contaminated"] >= 0
    folder = run / "eval" / report["model"]["checkpoint"]
    assert {p.name for p in folder.iterdir()} >= {"perplexity.json", "code-completion.samples.ndjson"}

    checked = codex("repro", "check", "latest", "--json", cwd=tmp_path, env=env, timeout=900)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    verdict = json.loads(checked.stdout)
    assert verdict["status"] == "identical" and verdict["steps"] == 800
    assert verdict["weights"]["compared"] is True, verdict["weights"]


def test_the_default_cpu_example_is_the_built_in_default_config() -> None:
    from codex_core.config import load_config

    assert load_config(EXAMPLES / "default-cpu.yaml").config.hash() == load_config().config.hash()


@pytest.mark.parametrize("name", ["default-cpu.yaml", "lora-sft-hf-local.yaml", "gpt2-124m-gpu-bf16.yaml"])
def test_every_example_config_validates_with_its_components(name: str) -> None:
    from codex_core.config import load_config
    from codex_core.config.components import validate_components
    from codex_core.plugins import get_plugin_manager

    config = load_config(EXAMPLES / name).config

    validate_components(config, get_plugin_manager().registry, strict=True)
