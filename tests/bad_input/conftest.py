"""What the bad-input tests share: a prepared world of good and bad inputs, and the CLI run
in this process.

``world`` (built once per session, about 6 s: most of it importing torch) holds a real trained
run under its runs root (``runs/good``, one checkpoint), a real BPE ``tokenizer.json``, a good
run config, and every kind of bad input next to them: files that are not UTF-8, binary files,
malformed YAML and JSON, wrong types, unknown keys and components, out-of-range values,
directories where files are expected, empty datasets, garbage / truncated / wrongly shaped
tokenizer files, fake and truncated model directories, and fake and truncated run directories
(``runs/empty-run``, ``runs/garbage-manifest``, ``runs/truncated``, ``runs/bad-metrics``) in the
same runs root, so that hashing the runs root before and after a command proves that it left
every run directory, good or bad, byte-identical.

``codex_main(*args) -> (exit status, stdout, stderr)`` runs ``codex_core.cli.main`` in this
process with the world's ``CODEX_HOME`` and ``CODEX_RUNS_DIR``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

WORDS = ["def", "return", "if", "else", "x", "y", "value", "=", "(", ")", ":", "for", "in", "print"]

NOT_UTF8 = b"run:\n  name: caf\xe9\n"  # Latin-1 bytes: valid YAML intent, not UTF-8
BINARY = bytes(range(256)) * 8


def _corpus(folder: Path) -> Path:
    rng = random.Random(0)
    folder.mkdir(parents=True)
    for i in range(6):
        lines = (" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) for _ in range(30))
        (folder / f"f{i}.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def run_tree(corpus: Path) -> dict[str, Any]:
    """A run config that trains in about a second: char tokenizer, 1-layer GPT-2 of width 32."""
    return {
        "run": {"seed": 1},
        "tokenizer": {"name": "char"},
        "data": {"name": "text", "params": {"paths": [str(corpus)]}, "split": {"train": 0.8, "val": 0.2, "test": 0.0}},
        "model": {"name": "gpt2", "params": {"n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0}},
        "loggers": [{"name": "csv"}],
        "trainer": {"max_steps": 2, "seq_len": 16, "micro_batch_size": 2, "log_every": 1, "eval_every": 2,
                    "eval_batches": 1, "checkpoint_every": 2, "warmup_steps": 1, "device": "cpu"},
        "telemetry": {"system_metrics": False},
    }


def run_main(*args: str) -> int:
    """The exit status of ``codex ARGS`` run through ``codex_core.cli.main`` in this process
    (callers capture its output); codex's log handlers are restored after."""
    from codex_core.cli import main

    root = logging.getLogger("codex")
    saved = (root.handlers[:], root.level)
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    return code


@dataclass
class World:
    """Paths of the prepared inputs (``paths``: name -> path, used to fill the table's ``{name}``)."""

    root: Path
    runs: Path
    home: Path
    paths: dict[str, str]

    def env(self) -> dict[str, str]:
        return {"CODEX_HOME": str(self.home), "CODEX_RUNS_DIR": str(self.runs)}


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def build_world(root: Path) -> World:
    """Train the good run and write every bad input beside it (see the module docstring)."""
    runs, home = root / "runs", root / "home"
    os.environ.update({"CODEX_HOME": str(home), "CODEX_RUNS_DIR": str(runs)})
    corpus = _corpus(root / "corpus")
    good = _write(root / "good.yaml", json.dumps(run_tree(corpus), indent=1))
    code = run_main("train", "-c", str(good), "run.name=good")
    assert code == 0, "the good run did not train"
    tok = root / "tok.json"
    code = run_main("tokenizer", "train", str(corpus), "--vocab-size", "300", "--min-frequency", "1",
                          "-o", str(tok))
    assert code == 0 and tok.exists(), "the tokenizer did not train"
    checkpoint = next((runs / "good" / "checkpoints").iterdir())
    bad = root / "bad"
    p: dict[str, Path] = {"root": root, "runs": runs, "corpus": corpus, "good_yaml": good, "tok": tok,
                          "checkpoint": checkpoint, "missing": root / "no-such-file.yaml"}
    # config files
    p["not_utf8"] = _write(bad / "not_utf8.yaml", NOT_UTF8)
    p["binary"] = _write(bad / "binary.bin", BINARY)
    p["malformed"] = _write(bad / "malformed.yaml", "run: {name: [unclosed\ntrainer: : :\n")
    p["list_yaml"] = _write(bad / "list.yaml", "- run\n- model\n")
    p["wrong_type"] = _write(bad / "wrong_type.yaml", json.dumps({**run_tree(corpus), "trainer": {"max_steps": "many"}}))
    p["unknown_key"] = _write(bad / "unknown_key.yaml", json.dumps({**run_tree(corpus), "trainer": {"max_stepz": 3}}))
    p["unknown_comp"] = _write(bad / "unknown_comp.yaml", json.dumps({**run_tree(corpus), "model": {"name": "gpt9"}}))
    p["out_of_range"] = _write(bad / "out_of_range.yaml",
                               json.dumps({**run_tree(corpus), "trainer": {**run_tree(corpus)["trainer"],
                                                                           "max_steps": -5}}))
    p["dir_yaml"] = bad / "dir.yaml"
    p["dir_yaml"].mkdir(parents=True)
    empty = root / "empty-data"
    empty.mkdir()
    p["empty_data"] = empty
    p["empty_files"] = _write(root / "empty-files" / "a.py", "").parent
    p["empty_yaml"] = _write(bad / "empty_data.yaml", json.dumps(
        {**run_tree(corpus), "data": {"name": "text", "params": {"paths": [str(empty)]}}}))
    # tokenizer files
    p["tok_garbage"] = _write(bad / "tok_garbage" / "tokenizer.json", b"\x00\x01garbage{{[")
    p["tok_truncated"] = _write(bad / "tok_truncated.json", tok.read_bytes()[: tok.stat().st_size // 2])
    p["tok_wrong"] = _write(bad / "tok_wrong.json", json.dumps({"model": {"type": "BPE", "vocab": 5, "merges": 7}}))
    p["tok_list"] = _write(bad / "tok_list.json", "[1, 2, 3]")
    p["tok_not_utf8"] = _write(bad / "tok_not_utf8.json", b'{"model": "\xe9"}')
    spec = json.loads(tok.read_text(encoding="utf-8"))
    del spec["added_tokens"][0]["id"]  # the pure engine reads it; the adapter needs the id
    p["tok_no_id"] = _write(bad / "tok_no_id.json", json.dumps(spec))
    # model directories (a checkpoint's files, damaged)
    for name, damage in (("model_trunc", "safetensors"), ("model_badconfig", "config"), ("model_binconfig", "bin"),
                         ("model_notok", "tokenizer")):
        model = shutil.copytree(checkpoint, root / name)
        (model / "trainer_state.pt").unlink()
        if damage == "safetensors":
            _truncate(model / "model.safetensors")
        elif damage == "config":
            (model / "config.json").write_text('{"model_type": "gpt2", "n_layer": "two",', encoding="utf-8")
        elif damage == "bin":
            (model / "config.json").write_bytes(BINARY)
        else:
            (model / "tokenizer.json").write_bytes(b"\xff\xfe not json")
        p[name] = model
    p["model_empty"] = root / "model_empty"
    p["model_empty"].mkdir()
    # fake and truncated run directories, in the same runs root as the good run
    (runs / "empty-run").mkdir()
    _write(runs / "garbage-manifest" / "manifest.json", BINARY)
    truncated = shutil.copytree(runs / "good", runs / "truncated")
    _truncate(next((truncated / "checkpoints").iterdir()) / "model.safetensors")
    bad_metrics = shutil.copytree(runs / "good", runs / "bad-metrics")
    (bad_metrics / "metrics.ndjson").write_bytes(BINARY)
    for lock in runs.rglob(".lock"):
        lock.unlink()
    # files other commands read
    p["preds_garbage"] = _write(bad / "preds.jsonl", b'{"task_id": 1\n\xff\xfe\n')
    p["eval_not_utf8"] = _write(bad / "eval.yaml", b"tasks:\n  - name: caf\xe9\n")
    p["eval_unknown"] = _write(bad / "eval_unknown.yaml", "tasks:\n  - name: no-such-task\n")
    p["policy_not_utf8"] = _write(bad / "policy.yaml", NOT_UTF8)
    p["result_garbage"] = _write(bad / "result.json", BINARY)
    p["cache_garbage"] = _write(root / "cache-garbage" / "manifest.json", b"{not json")
    return World(root=root, runs=runs, home=home, paths={k: str(v) for k, v in p.items()})


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The prepared world (see the module docstring), built once."""
    saved = {k: os.environ.get(k) for k in ("CODEX_HOME", "CODEX_RUNS_DIR")}
    try:
        built = build_world(tmp_path_factory.mktemp("world"))
    finally:  # the environment of this process as it was, for the tests that follow
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield built


@pytest.fixture
def codex_main(world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
               ) -> Callable[..., tuple[int, str, str]]:
    """``codex_main(*args) -> (exit status, stdout, stderr)`` in this process, in the world's
    cache and runs root, from the world's folder; plugins as installed."""
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    for name in ("CODEX_DEBUG", "CODEX_STRICT_PLUGINS", "CODEX_FAILPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(world.root)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run_main(*args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Plugins loaded afresh from entry points by the next command (planted ones included), and
    the installed ones' commands taken off the ``codex`` group meanwhile; all restored after."""
    from codex_core import plugins
    from codex_core.cli import cli
    from codex_core.cli.app import BUILTINS

    saved = (plugins._manager, dict(cli.commands), dict(cli.command_owners))
    plugins.reset_plugin_manager(None)
    for name in [n for n in cli.commands if n not in BUILTINS]:
        del cli.commands[name]
    cli.command_owners.clear()
    try:
        yield
    finally:
        plugins.reset_plugin_manager(saved[0])
        cli.commands.clear()
        cli.commands.update(saved[1])
        cli.command_owners.clear()
        cli.command_owners.update(saved[2])
