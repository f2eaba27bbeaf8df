"""Paths in a config file are relative to that file's folder; paths given by overrides are
relative to the working directory; the loaded config holds them absolute."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from codex_core import hookimpl
from codex_core.config import ConfigPath, ParamsOf, load_config
from codex_core.config.loader import validate_tree
from codex_core.testing import write_text as write

RUN = """
tokenizer: char
data:
  name: text
  params: {paths: [corpus.txt]}
  safety: policy.yaml
model: gpt2
"""


@pytest.fixture
def elsewhere(codex_elsewhere: Path) -> Path:
    """The working directory: a folder next to the config files, not their folder."""
    return codex_elsewhere


@pytest.fixture
def text_dataset() -> None:
    pytest.importorskip("codex_data", reason="the text dataset comes with codex-data")


def test_paths_in_a_config_file_are_relative_to_its_folder(tmp_path, elsewhere, text_dataset):
    run = write(tmp_path / "conf" / "run.yaml", RUN)

    config = load_config(run).config

    assert config.data.params["paths"] == [str(tmp_path / "conf" / "corpus.txt")]
    assert config.data.safety == str(tmp_path / "conf" / "policy.yaml")


def test_paths_given_by_overrides_are_relative_to_the_working_directory(tmp_path, elsewhere, text_dataset):
    run = write(tmp_path / "conf" / "run.yaml", RUN)

    config = load_config(run, ["data.params.paths=[x.txt]", "data.safety=rules/p.yaml"]).config

    assert config.data.params["paths"] == [str(elsewhere / "x.txt")]
    assert config.data.safety == str(elsewhere / "rules" / "p.yaml")


def test_a_path_set_in_an_extended_file_is_relative_to_that_file(tmp_path, elsewhere, text_dataset):
    write(tmp_path / "shared" / "base.yaml", RUN)
    child = write(tmp_path / "exp" / "child.yaml", """
        extends: ../shared/base.yaml
        data: {safety: strict.yaml}
    """)

    config = load_config(child).config

    assert config.data.params["paths"] == [str(tmp_path / "shared" / "corpus.txt")]
    assert config.data.safety == str(tmp_path / "exp" / "strict.yaml")


def test_absolute_home_url_and_glob_paths(tmp_path, elsewhere, text_dataset, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    absolute = str(tmp_path / "data" / "a.txt")
    run = write(tmp_path / "conf" / "run.yaml", f"""
        tokenizer: char
        data:
          name: text
          params: {{paths: ["{absolute}", "~/b.txt", "https://example.com/c.txt", "docs/**/*.md", "../d/"]}}
        model: gpt2
    """)

    paths = load_config(run).config.data.params["paths"]

    assert paths == [absolute, str(tmp_path / "home" / "b.txt"), "https://example.com/c.txt",
                     str(tmp_path / "conf" / "docs" / "**" / "*.md"), str(tmp_path / "d")]


def test_list_items_added_or_removed_by_overrides_keep_where_they_came_from(tmp_path, elsewhere, text_dataset):
    run = write(tmp_path / "conf" / "run.yaml", """
        tokenizer: char
        data: {name: text, params: {paths: [a.txt, b.txt, c.txt]}}
        model: gpt2
    """)

    paths = load_config(run, ["data.params.paths+=d.txt", "~data.params.paths.0",
                              "data.params.paths.-2=e.txt"]).config.data.params["paths"]

    conf = tmp_path / "conf"
    assert paths == [str(conf / "b.txt"), str(elsewhere / "e.txt"), str(elsewhere / "d.txt")]


def test_the_returned_tree_and_the_saved_yaml_hold_absolute_paths(tmp_path, elsewhere, text_dataset):
    loaded = load_config(write(tmp_path / "conf" / "run.yaml", RUN))

    saved = yaml.safe_load(loaded.config.to_yaml())

    expected = [str(tmp_path / "conf" / "corpus.txt")]
    assert loaded.tree["data"]["params"]["paths"] == expected
    assert saved["data"]["params"]["paths"] == expected
    assert validate_tree(saved) == loaded.config  # loading the saved config again changes nothing


def test_the_builtin_default_config_keeps_its_meaning():
    config = load_config().config

    assert config.tokenizer.params == {"vocab_size": 2048, "dataset": "stdlib-code"}
    assert config.data.safety == "builtin"


def test_config_show_prints_absolute_paths(tmp_path, codex, text_dataset):
    write(tmp_path / "conf" / "run.yaml", RUN)
    (tmp_path / "other").mkdir()

    result = codex("config", "show", "-c", os.path.join("..", "conf", "run.yaml"), cwd=tmp_path / "other")

    shown = yaml.safe_load(result.stdout)
    assert result.returncode == 0, result.stderr
    assert shown["data"]["params"]["paths"] == [str(tmp_path / "conf" / "corpus.txt")]
    assert shown["data"]["safety"] == str(tmp_path / "conf" / "policy.yaml")


@pytest.mark.parametrize(("written", "meaning"), [
    ("off", "off"), ("no", "off"), ("false", "off"), ("'off'", "off"), ("'no'", "off"), ("'False'", "off"),
    ("on", "builtin"), ("true", "builtin"), ("yes", "builtin"), ("'on'", "builtin"), ("'true'", "builtin"),
    ("'Yes'", "builtin"), ("builtin", "builtin"),
])
def test_safety_words_quoted_or_not(tmp_path, elsewhere, written, meaning):
    run = write(tmp_path / "conf" / "run.yaml", f"""
        tokenizer: char
        data: {{name: stdlib-code, safety: {written}}}
        model: gpt2
    """)

    from_file = load_config(run).config.data.safety
    from_override = load_config(run, [f"data.safety={written}"]).config.data.safety

    assert (from_file, from_override) == (meaning, meaning)


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: ConfigPath
    name: str = "x"


class ReaderParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: list[ConfigPath]
    vocab: ConfigPath | None = None
    where: Location | None = None
    label: str = "kept"


class TrainerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reader: str
    reader_params: Annotated[dict[str, Any], ParamsOf("dataset", "reader")] = Field(default_factory=dict)


class PathsPlugin:
    @hookimpl
    def codex_register_datasets(self, register):
        register("reader", lambda params: params, config=ReaderParams)

    @hookimpl
    def codex_register_tokenizers(self, register):
        register("trained", lambda params: params, config=TrainerParams)


@pytest.fixture
def paths_registry(register_codex_plugin, codex_registry):
    register_codex_plugin(PathsPlugin(), "paths-plugin")
    return codex_registry


def test_path_fields_are_found_in_lists_optionals_nested_models_and_other_components_params(
    tmp_path, elsewhere, paths_registry
):
    run = write(tmp_path / "conf" / "run.yaml", """
        tokenizer: {name: trained, params: {reader: reader, reader_params: {inputs: [t.txt]}}}
        data: {name: reader, params: {inputs: [a, b], vocab: v.json, where: {folder: out}, label: lab}}
        model: {name: not-installed, params: {path: stays.txt}}
    """)

    config = load_config(run, registry=paths_registry).config

    def conf(name: str) -> str:
        return str(tmp_path / "conf" / name)

    assert config.data.params == {"inputs": [conf("a"), conf("b")], "vocab": conf("v.json"),
                                  "where": {"folder": conf("out")}, "label": "lab"}
    assert config.tokenizer.params["reader_params"] == {"inputs": [conf("t.txt")]}
    assert config.model.params == {"path": "stays.txt"}  # no params model to say it is a path
