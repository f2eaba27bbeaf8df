"""``codex train``: dry runs, sweeps and its one-line errors (exit status 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codex_models.training import checkpoint as ckpt


def codex_subprocess(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    full.pop("CODEX_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "codex_core", *args], capture_output=True, text=True, env=full,
                          timeout=120)


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len([x for x in lines if x.startswith("error:")]) == 1, err
    return next(x for x in lines if x.startswith("error:"))


def test_dry_run_validates_and_prints_what_would_run_without_a_run_directory(train_config, train_env, tmp_path):
    path, _ = train_config()

    result = codex_subprocess("train", "-c", str(path), "run.name=dry", "--dry-run", env=train_env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("would train dry: model gpt2, tokenizer char, data text, max_steps 6")
    assert not (tmp_path / "runs").exists()


def test_dry_run_of_a_sweep_lists_every_point_as_json(train_config, codex_cli):
    path, _ = train_config()

    code, out, _ = codex_cli("train", "-c", str(path), "--sweep", "trainer.lr=1e-3,3e-4", "--sweep",
                             "trainer.max_steps=2,3", "--dry-run", "--json")

    rows = json.loads(out)
    assert code == 0 and len(rows) == 4
    assert sorted(r["max_steps"] for r in rows) == [2, 2, 3, 3] and len({r["run_name"] for r in rows}) == 4


def test_a_sweep_trains_each_point_as_its_own_run_and_prints_a_summary_table(train_config, codex_cli, tmp_path):
    path, _ = train_config()

    code, out, err = codex_cli("train", "-c", str(path), "run.name=sw", "trainer.max_steps=2",
                               "--sweep", "trainer.lr=1e-3,3e-4")

    table = [line for line in out.splitlines() if line.split() and line.split()[-1].startswith("trainer.lr=")]
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert code == 0, err
    assert out.splitlines()[-3].split()[:3] == ["point", "status", "step"]
    assert [row.split()[1:3] for row in table] == [["completed", "2"], ["completed", "2"]]
    assert len(runs) == 2 and all(name.startswith("sw-") for name in runs)
    lrs = {json.loads((tmp_path / "runs" / r / "manifest.json").read_text())["config_hash"] for r in runs}
    assert len(lrs) == 2


def test_a_sweep_as_json_gives_one_row_per_run(train_config, codex_cli):
    path, _ = train_config()

    code, out, _ = codex_cli("train", "-c", str(path), "trainer.max_steps=1", "--sweep", "trainer.lr=1e-3,3e-4",
                             "--json")

    rows = json.loads(out)
    assert code == 0 and [r["status"] for r in rows] == ["completed", "completed"]
    assert [r["overrides"] for r in rows] == [["trainer.lr=1e-3"], ["trainer.lr=3e-4"]]
    assert all(Path(r["run"]).is_dir() and r["step"] == 1 for r in rows)


def test_an_unknown_override_key_is_one_line_and_exit_2(train_config, train_env):
    path, _ = train_config()

    result = subprocess.run([sys.executable, "-m", "codex_models.training", "-c", str(path), "trainer.max_stepz=3"],
                            capture_output=True, text=True, env={**os.environ, **train_env}, timeout=120)

    assert result.returncode == 2
    assert "max_stepz" in one_error_line(result.stderr) and "max_steps" in result.stderr


def test_a_run_directory_that_exists_needs_resume(train_config, codex_cli):
    path, _ = train_config()
    assert codex_cli("train", "-c", str(path), "run.name=twice", "trainer.max_steps=1")[0] == 0

    code, _, err = codex_cli("train", "-c", str(path), "run.name=twice", "trainer.max_steps=1")

    assert code == 2 and "already exists" in one_error_line(err) and "--resume auto" in err


def test_resume_from_a_path_that_is_no_checkpoint_is_one_line_and_exit_2(train_config, codex_cli, tmp_path):
    path, _ = train_config()

    code, _, err = codex_cli("train", "-c", str(path), "--resume", str(tmp_path / "nowhere"))

    assert code == 2 and "does not exist" in one_error_line(err)


def test_resume_from_a_corrupted_checkpoint_path_fails_clearly(train_config, codex_cli, tmp_path):
    path, _ = train_config()
    assert codex_cli("train", "-c", str(path), "run.name=bad", "trainer.max_steps=3")[0] == 0
    checkpoint = tmp_path / "runs/bad/checkpoints/step-00000003"
    weights = checkpoint / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))

    code, _, err = codex_cli("train", "-c", str(path), "trainer.max_steps=6", "--resume", str(checkpoint))

    assert code == 2
    assert "corrupted: the sha256 of model.safetensors does not match" in one_error_line(err)


def test_resume_auto_without_a_run_name_is_an_error(train_config, codex_cli):
    path, _ = train_config()

    code, _, err = codex_cli("train", "-c", str(path), "--resume", "auto")

    assert code == 2 and "run.name" in one_error_line(err)


def test_resume_auto_skips_a_corrupted_newest_checkpoint_with_a_warning(train_config, codex_cli, tmp_path):
    path, _ = train_config()
    assert codex_cli("train", "-c", str(path), "run.name=skip", "trainer.max_steps=6")[0] == 0
    (tmp_path / "runs/skip/checkpoints/step-00000006" / ckpt.TRAINER_STATE).write_bytes(b"not a torch file")

    code, out, err = codex_cli("train", "-c", str(path), "run.name=skip", "--resume", "auto", "--json")

    assert code == 0, err
    assert "step-00000006 is corrupted" in err
    assert json.loads(out)["step"] == 6 and json.loads(out)["status"] == "completed"
    assert ckpt.read_info(tmp_path / "runs/skip/checkpoints/step-00000006").step == 6, "rewritten, verified"


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_the_help_documents_the_exit_statuses(sig, codex_cli):
    code, out, _ = codex_cli("train", "--help")

    assert code == 0 and {"SIGINT": "130", "SIGTERM": "143"}[sig] in out and "--resume auto" in out


@pytest.mark.parametrize("safety", ["off", "policy.yaml"])
def test_data_prepare_then_train_of_one_config_builds_the_token_cache_once(safety, train_config, train_trees,
                                                                            codex_cli, tmp_path):
    """``codex data prepare -c RUN.yaml`` builds the cache that ``codex train -c RUN.yaml``
    then uses, whatever ``data.safety`` says (off, or a policy file beside the config)."""
    (tmp_path / "policy.yaml").write_text("builtin: false\nrules: [{name: tabs, literal: '\\t', replacement: ' '}]\n",
                                          encoding="utf-8")
    tree = train_trees.base_tree(tmp_path / "corpus")
    tree["data"]["safety"] = safety
    path, _ = train_config(tree=tree)
    caches = tmp_path / "home" / "token-caches"

    code, _, err = codex_cli("data", "prepare", "-c", str(path))
    assert code == 0, err
    [cache] = [p for p in caches.iterdir() if not p.name.startswith(".")]
    built = (cache / "manifest.json").stat().st_mtime_ns

    code, _, err = codex_cli("train", "-c", str(path), "run.name=after-prepare", "trainer.max_steps=2")

    assert code == 0, err
    assert [p for p in caches.iterdir() if not p.name.startswith(".")] == [cache]
    assert (cache / "manifest.json").stat().st_mtime_ns == built
