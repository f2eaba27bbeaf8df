"""Run config: loading, extends, env interpolation, overrides, validation errors, hashing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from codex_core.config import expand_sweeps, load_config
from codex_core.config.loader import validate_tree
from codex_core.errors import ConfigError

BASE = """
run: {name: base-run, seed: 1}
tokenizer: char
data: {name: text, params: {paths: [corpus.txt]}}
model: {name: gpt2, params: {n_layer: 2}}
loggers: [{name: csv}, {name: console}]
trainer: {max_steps: 10, lr: 1.0e-3, min_lr: 1.0e-4}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_builtin_default_config_is_valid():
    loaded = load_config()

    assert loaded.config.model.name == "gpt2"
    assert loaded.sources == ["built-in default config"]


def test_extends_merges_mappings_and_replaces_lists(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", """
        extends: base.yaml
        model: {params: {n_embd: 32}}
        loggers: [{name: csv}]
    """)

    config = load_config(child).config

    assert config.model.params == {"n_layer": 2, "n_embd": 32}
    assert [lg.name for lg in config.loggers] == ["csv"]
    assert config.run.name == "base-run"


def test_an_extends_cycle_is_an_error(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")

    with pytest.raises(ConfigError, match=r"'extends' cycle: a.yaml -> b.yaml -> a.yaml"):
        load_config(tmp_path / "a.yaml")


def test_env_interpolation_with_and_without_default(tmp_path, monkeypatch):
    path = write(tmp_path, "c.yaml", BASE + "\n" + textwrap.dedent("""
        run: {name: "${env:RUN_PREFIX}-x", seed: "${env:SEED_NOT_SET,42}"}
    """))
    monkeypatch.setenv("RUN_PREFIX", "exp")

    config = load_config(path).config

    assert (config.run.name, config.run.seed) == ("exp-x", 42)


def test_a_missing_env_variable_names_the_variable_key_and_file(tmp_path):
    path = write(tmp_path, "c.yaml", BASE + "\nrun: {name: '${env:CODEX_TEST_UNSET_VAR}'}\n")

    with pytest.raises(ConfigError) as err:
        load_config(path)

    message = str(err.value)
    assert "CODEX_TEST_UNSET_VAR is not set (used by 'run.name' in" in message and "c.yaml" in message


def test_overrides_set_index_append_remove_and_delete(tmp_path):
    path = write(tmp_path, "c.yaml", BASE)

    config = load_config(path, [
        "trainer.lr=2e-3",
        "trainer.betas=[0.8,0.9]",
        "loggers.1.name=tensorboard",
        "loggers+={name: mlflow}",
        "loggers-=csv",
        "~model.params.n_layer",
        "model.params.n_head=4",
    ]).config

    assert config.trainer.lr == 2e-3
    assert config.trainer.betas == (0.8, 0.9)
    assert [lg.name for lg in config.loggers] == ["tensorboard", "mlflow"]
    assert config.model.params == {"n_head": 4}


@pytest.mark.parametrize(("override", "message"), [
    ("loggers.5.name=csv", "index 5 is out of range"),
    ("loggers-=wandb", "no item of 'loggers' matches 'wandb'"),
    ("~trainer.nothing", "no key 'trainer.nothing' to delete"),
    ("trainer.lr", "invalid override 'trainer.lr'"),
    ("trainer..lr=1", "invalid key path"),
    ("trainer.lr=[1,", "cannot parse value"),
])
def test_bad_overrides_are_clear_errors(tmp_path, override, message):
    path = write(tmp_path, "c.yaml", BASE)

    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        load_config(path, [override])


def test_an_unknown_key_suggests_the_right_one_with_file_and_path(tmp_path):
    path = write(tmp_path, "c.yaml", BASE + "\ntrainer: {max_steps: 10, lrr: 0.1}\n")

    with pytest.raises(ConfigError) as err:
        load_config(path)

    assert str(err.value) == f"unknown key 'trainer.lrr' (in {path}); did you mean 'trainer.lr'?"


def test_an_unknown_key_from_an_override_names_the_override(tmp_path):
    path = write(tmp_path, "c.yaml", BASE)

    with pytest.raises(ConfigError, match=r"unknown key 'trainer.max_step' \(in override 'trainer.max_step=5'\)"):
        load_config(path, ["trainer.max_step=5"])


def test_a_type_error_names_key_value_and_expected_type(tmp_path):
    path = write(tmp_path, "c.yaml", BASE)

    with pytest.raises(ConfigError) as err:
        load_config(path, ["trainer.max_steps=lots"])

    assert "trainer.max_steps: expected a valid integer" in str(err.value)
    assert "got 'lots' (str)" in str(err.value)
    assert "override 'trainer.max_steps=lots'" in str(err.value)


def test_a_missing_section_is_named(tmp_path):
    path = write(tmp_path, "c.yaml", "tokenizer: char\ndata: text\n")

    with pytest.raises(ConfigError, match=r"missing key 'model' \(in .*c\.yaml\)"):
        load_config(path)


def test_invalid_yaml_names_file_line_and_column(tmp_path):
    path = write(tmp_path, "c.yaml", "run:\n  name: [unclosed\n")

    with pytest.raises(ConfigError, match=r"invalid YAML in .*c\.yaml:\d+:\d+"):
        load_config(path)


def test_trainer_cross_field_checks(tmp_path):
    path = write(tmp_path, "c.yaml", BASE)

    with pytest.raises(ConfigError, match=r"global_batch_size \(12\) must be a multiple of micro_batch_size \(8\)"):
        load_config(path, ["trainer.global_batch_size=12"])


def test_durations_are_accepted_for_max_time(tmp_path):
    config = load_config(write(tmp_path, "c.yaml", BASE), ["trainer.max_time=30m"]).config

    assert config.trainer.max_time == 1800.0


def test_resolved_config_round_trips_through_yaml_with_the_same_hash(tmp_path):
    config = load_config(write(tmp_path, "c.yaml", BASE), ["trainer.lr=5e-4"]).config

    again = validate_tree(yaml.safe_load(config.to_yaml()))

    assert again == config
    assert again.hash() == config.hash()


def test_the_hash_changes_with_any_value_and_not_with_key_order(tmp_path):
    a = load_config(write(tmp_path, "a.yaml", BASE)).config
    reordered = "\n".join(reversed(BASE.strip().splitlines()))
    b = load_config(write(tmp_path, "b.yaml", reordered)).config
    c = load_config(tmp_path / "a.yaml", ["run.seed=2"]).config

    assert a.hash() == b.hash()
    assert a.hash() != c.hash()


def test_sweeps_expand_to_a_grid_with_ids_independent_of_flag_order():
    grid = expand_sweeps(["trainer.lr=1e-3,3e-4", "run.seed=1,2,3"])
    swapped = expand_sweeps(["run.seed=1,2,3", "trainer.lr=1e-3,3e-4"])

    assert len(grid) == 6
    assert len({p.id for p in grid}) == 6
    assert {p.id: set(p.overrides) for p in grid} == {p.id: set(p.overrides) for p in swapped}


def test_sweep_values_may_be_lists():
    grid = expand_sweeps(["trainer.betas=[0.9,0.95],[0.8,0.99]"])

    assert [p.overrides for p in grid] == [("trainer.betas=[0.9,0.95]",), ("trainer.betas=[0.8,0.99]",)]


def test_split_ratios_must_add_up_to_one(tmp_path):
    with pytest.raises(ConfigError, match=r"split ratios must add up to 1, got 1\.1"):
        load_config(write(tmp_path, "c.yaml", BASE), ["data.split.val=0.11"])


def test_overrides_reach_into_a_component_written_as_a_bare_name(tmp_path):
    path = write(tmp_path, "c.yaml", "tokenizer: char\ndata: text\nmodel: gpt2\nloggers: [csv, console]\n")

    config = load_config(path, ["model.params.n_layer=4", "loggers-={name: csv}", "run.tags+=nightly"]).config

    assert config.model.params == {"n_layer": 4}
    assert [lg.name for lg in config.loggers] == ["console"]
    assert config.run.tags == ["nightly"]


def test_the_json_schema_accepts_real_configs_and_rejects_bad_params():
    import jsonschema

    from codex_core.config.components import json_schema
    from codex_core.plugins import PluginManager

    schema = json_schema(PluginManager().registry)
    validator = jsonschema.Draft202012Validator(schema)
    default = load_config().config.to_dict()
    shorthand = {"tokenizer": "char", "data": "stdlib-code", "model": "gpt2", "loggers": ["csv"]}
    bad = {**shorthand, "model": {"name": "gpt2", "params": {"n_layers": 2}}}

    assert list(validator.iter_errors(default)) == []
    assert list(validator.iter_errors(shorthand)) == []
    assert list(validator.iter_errors(bad)) != []
