"""A run config in another folder than the working directory: its datasets find their
files, and its safety policy file, beside the config file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codex_core.config import load_config
from codex_core.context import BuildContext
from codex_core.plugins import get_plugin_manager
from codex_core.testing import write_text as write
from codex_data.safety import Policy


@pytest.fixture
def conf(tmp_path: Path, codex_elsewhere: Path) -> Path:
    """``conf/`` with a corpus, a jsonl file and a safety policy; the working directory elsewhere."""
    folder = tmp_path / "conf"
    for i in range(12):
        write(folder / "corpus" / f"doc{i}.txt", f"document {i}: the quick brown fox\n")
    write(folder / "rows.jsonl", "".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(3)))
    write(folder / "policy.yaml", """
        builtin: false
        rules: [{name: fox, literal: brown fox, replacement: dog}]
    """)
    return folder


def test_datasets_built_from_the_loaded_config_read_the_files_beside_it(conf):
    run = write(conf / "run.yaml", """
        tokenizer: char
        data: {name: text, params: {paths: [corpus]}, safety: policy.yaml}
        model: gpt2
    """)
    rows = write(conf / "rows.yaml", """
        extends: run.yaml
        data: {name: jsonl, params: {paths: ["*.jsonl"]}}
    """)
    context = BuildContext(registry=get_plugin_manager().registry)

    config = load_config(run).config
    docs = list(context.build("dataset", config.data))
    policy = Policy.load(config.data.safety)
    records = list(context.build("dataset", load_config(rows).config.data))

    assert len(docs) == 12
    assert policy.apply(docs[0].text).text == "document 0: the quick dog\n"
    assert [r.text for r in records] == ["row 0", "row 1", "row 2"]


def test_sft_tokenizer_config_is_relative_to_the_config_file(conf):
    run = write(conf / "sft.yaml", """
        tokenizer: char
        data: {name: sft-jsonl, params: {paths: [rows.jsonl], tokenizer_config: hf/tokenizer_config.json}}
        model: gpt2
    """)

    params = load_config(run).config.data.params

    assert params["tokenizer_config"] == str(conf / "hf" / "tokenizer_config.json")


def test_data_prepare_with_a_config_in_another_folder(conf, tmp_path):
    write(conf / "run.yaml", """
        tokenizer: char
        data: {name: text, params: {paths: [corpus]}, split: {train: 0.5, val: 0.25, test: 0.25}}
        model: gpt2
    """)
    env = {**os.environ, "CODEX_HOME": str(tmp_path / "home")}

    result = subprocess.run(
        [sys.executable, "-m", "codex_core", "data", "prepare", "-c", os.path.join("..", "conf", "run.yaml"),
         "--json"], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path / "elsewhere")

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert sum(s["documents"] for s in summary["splits"].values()) == 12
