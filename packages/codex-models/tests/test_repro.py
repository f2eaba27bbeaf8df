"""``codex repro``: ``check`` re-runs a run and says identical / differs / cannot be checked,
``diff`` says why two runs differ, ``show`` prints the manifest.

One tiny run (6 steps, checkpoints at 3 and 6) is trained once for the module; a test that
changes something changes a copy of it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, train_trees: Any) -> SimpleNamespace:
    """The module's runs: ``base`` and ``lr`` (the same but ``trainer.lr``), their corpus, and
    the CODEX_HOME / runs root they were trained with."""
    from codex_core.config import load_config
    from codex_models.training.run import run_training

    root = tmp_path_factory.mktemp("repro")
    corpus = train_trees.write_corpus(root / "corpus")
    tree = train_trees.base_tree(corpus)
    env = {"CODEX_HOME": str(root / "home"), "CODEX_RUNS_DIR": str(root / "runs")}
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        for name, overrides in (("base", []), ("lr", ["trainer.lr=0.002"])):
            path = root / f"{name}.yaml"
            path.write_text(json.dumps({**tree, "run": {**tree["run"], "name": name}}), encoding="utf-8")
            result = run_training(load_config(path, overrides).config, progress=False)
            assert result.status == "completed", result
            runs[name] = Path(result.run)
    return SimpleNamespace(root=root, corpus=corpus, env=env, **runs)


@pytest.fixture
def repro(trained: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, codex_cli: Any) -> Any:
    """``repro(*args) -> (exit code, stdout, stderr)``: ``codex repro ARGS`` in this process, with
    the module's CODEX_HOME and runs root."""
    import click

    from codex_core.cli.app import cli
    from codex_models.cli.repro_cmd import repro as group

    for key, value in trained.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CODEX_DEBUG", raising=False)
    cli.list_commands(click.Context(cli))  # the plugins' commands first
    if "repro" not in cli.commands:
        monkeypatch.setitem(cli.commands, "repro", group)
    return lambda *args: codex_cli("repro", *args)


def copy_run(trained: SimpleNamespace, tmp_path: Path, name: str = "copy") -> Path:
    target = tmp_path / name
    shutil.copytree(trained.base, target)
    return target


def edit_json(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_check_of_an_untouched_run_is_identical_and_keeps_the_rerun_with_keep(repro, trained, tmp_path):
    code, out, err = repro("check", "base", "--keep", str(tmp_path / "again"))

    lines = out.splitlines()
    assert code == 0, out + err
    assert lines[-1] == "identical"
    assert any(line.split()[:2] == ["weights", "identical"] and "step-00000003" in line for line in lines), out
    assert (tmp_path / "again" / "runs" / "base" / "checkpoints" / "step-00000003").is_dir()


def test_check_names_the_weights_after_one_byte_of_a_checkpoint_changed(repro, trained, tmp_path):
    run = copy_run(trained, tmp_path)
    weights = run / "checkpoints" / "step-00000003" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # the last byte of the last tensor
    weights.write_bytes(bytes(data))

    code, out, err = repro("check", str(run), "--json")

    result = json.loads(out)
    assert code == 1, out + err
    assert result["status"] == "differs" and result["metrics"]["identical"]
    assert result["weights"]["checkpoint"] == "step-00000003" and len(result["weights"]["differing"]) == 1


def test_check_names_the_step_and_metric_of_a_changed_metrics_row(repro, trained, tmp_path):
    run = copy_run(trained, tmp_path)
    rows = [json.loads(line) for line in (run / "metrics.ndjson").read_text().splitlines()]
    row = next(r for r in rows if r["step"] == 2 and "train/loss" in r["metrics"])
    row["metrics"]["train/loss"] += 1e-6
    (run / "metrics.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))

    code, out, err = repro("check", str(run))

    assert code == 1, out + err
    assert out.splitlines()[-1] == "differs"
    assert "first at step 2: train/loss" in out
    assert any(line.split()[:2] == ["train/loss", "differs"] for line in out.splitlines()), out


def test_check_cannot_check_when_a_data_source_is_missing_and_names_it(repro, trained, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(trained.corpus, corpus)
    run = copy_run(trained, tmp_path)
    config = run / "config.yaml"
    config.write_text(config.read_text().replace(str(trained.corpus), str(corpus)))
    (corpus / "f004.py").unlink()

    code, out, err = repro("check", str(run))

    reasons = [line for line in out.splitlines() if line.startswith("cannot check:")]
    assert code == 2, out + err
    assert out.splitlines()[-1] == "cannot be checked"
    assert len(reasons) == 1 and "f004.py" in reasons[0] and "missing" in reasons[0]


def test_check_cannot_check_with_another_torch_and_names_both_versions(repro, trained, tmp_path):
    from importlib.metadata import version

    run = copy_run(trained, tmp_path)
    edit_json(run / "manifest.json", lambda m: m["environment"]["distributions"].update(torch="1.0.0"))

    code, out, err = repro("check", str(run), "--json")

    result = json.loads(out)
    assert code == 2, out + err
    assert result["status"] == "cannot_check"
    assert result["reasons"] == [f"torch 1.0.0 in the run, {version('torch')} installed now"]


def test_diff_of_runs_that_differ_by_one_override_names_only_that_key(repro, trained):
    code, out, _ = repro("diff", "base", "lr", "--json")
    _, text, _ = repro("diff", "base", "lr")

    assert code == 0
    assert json.loads(out)["differences"] == [{"kind": "config", "key": "trainer.lr", "a": 0.001, "b": 0.002}]
    assert text.split() == ["config", "trainer.lr", "0.001", "0.002"]


def test_diff_of_a_run_with_itself_has_no_differences(repro, trained, tmp_path):
    copy = copy_run(trained, tmp_path)
    edit_json(copy / "manifest.json", lambda m: m.update(name="copy", created_at="2000-01-01T00:00:00",
                                                         hostname="elsewhere", argv=["codex"]))

    code, out, _ = repro("diff", "base", str(copy))

    assert (code, out.strip()) == (0, "no differences")


def test_diff_sees_a_param_left_at_its_default_and_one_set_to_it_as_the_same(repro, trained, tmp_path):
    import yaml

    copy = copy_run(trained, tmp_path)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    assert config["model"]["params"].pop("dropout") == 0.0  # GPT2Params' default
    config["trainer"].pop("deterministic", None)
    (copy / "config.yaml").write_text(yaml.safe_dump(config))

    code, out, _ = repro("diff", "base", str(copy))

    assert (code, out.strip()) == (0, "no differences")


def test_show_prints_the_manifest_in_sections_and_json_as_it_is(repro, trained):
    code, out, _ = repro("show", "base")
    _, raw, _ = repro("show", "base", "--json")

    sections = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert code == 0
    assert sections == ["run", "seeds", "config", "data", "tokenizer", "model", "environment", "git"]
    assert json.loads(raw) == json.loads((trained.base / "manifest.json").read_text())


def test_versions_other_than_the_critical_ones_are_warnings():
    from codex_models.repro.preflight import compare_versions

    manifest = {"environment": {"distributions": {"torch": "2.0", "codex-core": "0.1", "rich": "13.0"}},
                "components": {"model": {"name": "tiny", "distribution": "tiny_models"}}}
    installed = {"torch": "2.0", "codex-core": "0.2", "rich": "14.0", "tiny-models": "1.0"}

    reasons, warnings = compare_versions(manifest, installed)

    assert reasons == ["codex-core 0.1 in the run, 0.2 installed now",
                       "tiny-models (not installed) in the run, 1.0 installed now"]
    assert warnings == ["other distributions differ from the run's: rich 13.0 -> 14.0"]


def test_check_cannot_check_past_the_runs_last_step(repro, trained):
    code, out, _ = repro("check", "base", "--steps", "7")

    assert code == 2
    assert "cannot check: --steps 7 is past the run's last step (6)" in out.splitlines()


@pytest.mark.parametrize("limits", [{"max_steps": 6}, {"max_steps": None, "max_tokens": 768}])
def test_the_rerun_stops_after_n_steps_with_the_learning_rates_of_the_run(trained, limits):
    from codex_core.config import RunConfig
    from codex_models.repro.rerun import rerun_tree
    from codex_models.training.optim import lr_at

    tree = json.loads((trained.root / "base.yaml").read_text())
    tree["trainer"].update({**limits, "warmup_steps": 0, "max_time": 60})
    run_config = RunConfig.model_validate(tree)
    rerun_config = RunConfig.model_validate(rerun_tree(run_config, {"tokens_per_step": 128}, 3,
                                                        name="again", runs_dir=trained.root / "again"))

    def rates(config: Any) -> list[float]:  # as the engine sets total_steps
        cfg = config.trainer
        total = cfg.max_steps or (cfg.max_tokens // 128 if cfg.max_tokens else None)
        return [lr_at(step, cfg, total) for step in range(3)]

    assert rerun_config.trainer.max_tokens == 3 * 128 and rerun_config.trainer.max_time is None
    assert rates(rerun_config) == rates(run_config) and len(set(rates(run_config))) == 3
    assert rerun_config.loggers == [] and rerun_config.run.name == "again"


def test_a_compiled_run_gets_a_warning_that_its_kernels_may_not_repeat(trained):
    from codex_core.config import load_config
    from codex_core.runs import RunDir
    from codex_models.repro.preflight import preflight

    run = RunDir(trained.base)
    config = load_config(run.config_path, ["trainer.compile=true"]).config

    found = preflight(run, run.read_manifest(), config, steps=3)

    assert any(w.startswith("trainer.compile: torch.compile's kernels") for w in found.warnings)
    assert not any("compile" in w for w in preflight(run, run.read_manifest(), load_config(run.config_path).config,
                                                      steps=3).warnings)
