"""The run manifest records what a re-run needs and what can make it differ: seeds, the
resolved config's hash, every installed distribution, the codex plugins and which one built
each component, Python, platform, CPU, threads, the torch build, git, the data's sources and
fingerprint, the tokenizer's, and the deterministic setting."""

from __future__ import annotations

import json
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from codex_data import load_cache
from codex_models.training.run import run_training

torch = pytest.importorskip("torch")


@pytest.fixture
def deterministic_off_after(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    yield
    torch.use_deterministic_algorithms(False)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_the_manifest_holds_the_environment_data_and_seeds(train_config, tmp_path, monkeypatch,
                                                           deterministic_off_after):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "notes.txt").write_text("v1\n")
    git(repo, "add", "notes.txt")
    git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "first")
    (repo / "notes.txt").write_text("v2\n")  # a tracked file changed: dirty
    monkeypatch.chdir(repo)
    _, config = train_config(run__name="m", run__seed=5, trainer__deterministic=True)

    result = run_training(config, progress=False)

    manifest = json.loads((result.run / "manifest.json").read_text())
    env = manifest["environment"]
    assert manifest["seeds"] == {"run": 5, "data_split": 1337} and manifest["config_hash"] == config.hash()
    assert manifest["git"] == {"sha": git(repo, "rev-parse", "HEAD"), "dirty": True}
    for name in ("torch", "numpy", "transformers", "pydantic", "codex-core", "codex-models", "codex-data"):
        assert env["distributions"][name] == version(name)
    assert {p["name"] for p in env["plugins"]} >= {"models", "data", "tokenizers", "telemetry"}
    assert manifest["components"]["model"] == {"kind": "model", "name": "gpt2", "plugin": "models",
                                               "distribution": "codex-models"}
    assert env["python"]["version"] and env["cpu"]["count"] and env["cpu"]["model"]
    assert env["threads"]["torch"] == torch.get_num_threads() == manifest["hardware"]["cpu_threads"]
    assert env["torch"]["version"] == torch.__version__ and env["torch"]["cuda"] == torch.version.cuda
    assert manifest["deterministic"] is True and env["torch"]["deterministic_algorithms"] is True
    assert env["torch"]["cublas_workspace_config"] == ":4096:8"
    cache = load_cache(manifest["data"]["token_cache"])
    assert manifest["data"]["fingerprint"] == cache.manifest.fingerprint()
    assert manifest["data"]["sources"] == cache.manifest.sources and manifest["data"]["split_seed"] == 1337
    assert any(s["uri"].endswith(".py") and len(s["sha256"]) == 64 for s in manifest["data"]["sources"])
    from codex_core.context import BuildContext
    from codex_core.plugins import get_plugin_manager

    tokenizer = BuildContext(registry=get_plugin_manager().registry).build("tokenizer", config.tokenizer)
    assert manifest["tokenizer"]["fingerprint"] == tokenizer.fingerprint() == cache.manifest.tokenizer_fingerprint


def test_git_is_unknown_outside_a_checkout(train_config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = run_training(train_config(run__name="nogit", trainer__max_steps=2)[1], progress=False)

    assert json.loads((result.run / "manifest.json").read_text())["git"] == {"sha": None, "dirty": None}
