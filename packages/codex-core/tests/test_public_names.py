"""What sibling packages import from core: public modules and the lazy top-level names."""

from __future__ import annotations

import subprocess
import sys

import pytest

import codex_core
from codex_core import events, fanout, protocols


def test_protocols_hold_only_protocols_and_their_data_classes():
    assert not hasattr(protocols, "LoggerFanout") and not hasattr(protocols, "TrainState")
    assert {"Encoding", "Located", "Document", "Tokenizer", "Logger"} <= set(vars(protocols))


@pytest.mark.parametrize(("name", "module"), [("LoggerFanout", fanout), ("TrainState", events)])
def test_the_fanout_and_the_train_state_keep_their_top_level_names(name, module):
    assert getattr(codex_core, name) is getattr(module, name)


def test_the_cli_output_helpers_are_a_public_module(capsys):
    from codex_core.cli.output import echo_json, echo_table, human_size

    echo_table(("NAME", "SIZE"), [("tokenizers", human_size(1536)), ("runs", None)])
    echo_json({"a": 1})

    assert capsys.readouterr().out == 'NAME        SIZE\ntokenizers  1.5 KiB\nruns\n{\n  "a": 1\n}\n'


def test_the_old_private_output_module_is_gone():
    code = "import codex_core.cli._output"

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr
