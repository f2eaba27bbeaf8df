"""One test per hook in codex_core.hookspecs (a meta-test checks each hook has one)."""

from __future__ import annotations

import types
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from codex_core import hookimpl, hookspecs
from codex_core.config import load_config
from codex_core.events import TrainEvents, TrainState
from codex_core.runs import RunDir


def plugin(**hooks: object) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def registered(register_codex_plugin, codex_registry, hook: str, kind: str) -> list[str]:
    register_codex_plugin(plugin(**{hook: lambda register: register("x", lambda: "built")}), "p")
    return [(s.kind, s.name, s.plugin) for s in codex_registry.list(kind)]


def test_hook_codex_register_tokenizers(register_codex_plugin, codex_registry):
    assert registered(register_codex_plugin, codex_registry, "codex_register_tokenizers", "tokenizer") == [
        ("tokenizer", "x", "p")]


def test_hook_codex_register_models(register_codex_plugin, codex_registry):
    assert registered(register_codex_plugin, codex_registry, "codex_register_models", "model") == [
        ("model", "x", "p")]


def test_hook_codex_register_datasets(register_codex_plugin, codex_registry):
    assert registered(register_codex_plugin, codex_registry, "codex_register_datasets", "dataset") == [
        ("dataset", "x", "p")]


def test_hook_codex_register_connectors(register_codex_plugin, codex_registry):
    assert registered(register_codex_plugin, codex_registry, "codex_register_connectors", "connector") == [
        ("connector", "x", "p")]


def test_hook_codex_register_metrics(register_codex_plugin, codex_registry):
    assert registered(register_codex_plugin, codex_registry, "codex_register_metrics", "metric") == [
        ("metric", "x", "p")]


def test_hook_codex_register_loggers(register_codex_plugin, codex_registry):
    assert registered(register_codex_plugin, codex_registry, "codex_register_loggers", "logger") == [
        ("logger", "x", "p")]


def test_hook_codex_register_tasks(register_codex_plugin, codex_registry):
    assert registered(register_codex_plugin, codex_registry, "codex_register_tasks", "task") == [
        ("task", "x", "p")]


@pytest.fixture
def codex_cli(monkeypatch: pytest.MonkeyPatch) -> click.Group:
    """The global ``codex`` group; commands (and owners) a test's plugin adds to it are
    removed after the test, whether it passed or not."""
    from codex_core.cli.app import cli

    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    monkeypatch.setattr(cli, "command_owners", dict(cli.command_owners))
    return cli


def test_hook_codex_register_commands(register_codex_plugin, codex_cli):
    def add(cli: click.Group) -> None:
        @cli.command("hello-from-plugin")
        def hello() -> None:
            click.echo("hello from a plugin")

    register_codex_plugin(plugin(codex_register_commands=add), "cmd-plugin")

    result = CliRunner().invoke(codex_cli, ["hello-from-plugin"])

    assert result.output == "hello from a plugin\n"


def run_and_state(tmp_path: Path) -> tuple[RunDir, TrainState]:
    run = RunDir.create(tmp_path, "r")
    run.unlock()
    return run, TrainState(step=3, tokens=300)


def test_hook_codex_on_train_start(register_codex_plugin, codex_plugin_manager, tmp_path):
    seen = []

    def on_start(run, state):  # a subset of the hook's arguments is enough
        seen.append((run.name, state.step))

    register_codex_plugin(plugin(codex_on_train_start=on_start), "observer")
    run, state = run_and_state(tmp_path)

    TrainEvents(codex_plugin_manager).train_start(run, load_config().config, model=object(), state=state)

    assert seen == [("r", 3)]


def test_codex_on_train_start_gives_banner_lines_and_the_loggers(register_codex_plugin, codex_plugin_manager, tmp_path):
    from codex_core.fanout import LoggerFanout

    def on_start(loggers):
        loggers.log_metrics({"system/cpu_percent": 12.0}, 0)
        return "system: sampling every 10s"

    register_codex_plugin(plugin(codex_on_train_start=on_start), "sampler")
    run, state = run_and_state(tmp_path)
    rows = []

    class Rows:
        def log_metrics(self, metrics, step):
            rows.append((step, dict(metrics)))

    lines = TrainEvents(codex_plugin_manager).train_start(
        run, load_config().config, model=object(), state=state, loggers=LoggerFanout([Rows()])
    )

    assert (lines, rows) == (["system: sampling every 10s"], [(0, {"system/cpu_percent": 12.0})])


def test_hook_codex_on_step_end(register_codex_plugin, codex_plugin_manager, tmp_path):
    def stop_when_diverged(metrics):
        return True if metrics["train/loss"] > 100 else None

    register_codex_plugin(plugin(codex_on_step_end=stop_when_diverged), "watchdog")
    run, state = run_and_state(tmp_path)
    events = TrainEvents(codex_plugin_manager)

    assert events.step_end(run, state, {"train/loss": 2.0}) is False
    assert events.step_end(run, state, {"train/loss": 1e9}) is True


def test_hook_codex_on_eval(register_codex_plugin, codex_plugin_manager, tmp_path):
    register_codex_plugin(plugin(codex_on_eval=lambda metrics: metrics["val/loss"] < 0.5), "target")
    run, state = run_and_state(tmp_path)

    assert TrainEvents(codex_plugin_manager).eval(run, state, {"val/loss": 0.4}) is True


def test_hook_codex_on_checkpoint(register_codex_plugin, codex_plugin_manager, tmp_path):
    paths = []
    register_codex_plugin(plugin(codex_on_checkpoint=lambda path: paths.append(path)), "uploader")
    run, state = run_and_state(tmp_path)

    TrainEvents(codex_plugin_manager).checkpoint(run, state, run.checkpoints_dir / "step-3")

    assert paths == [run.checkpoints_dir / "step-3"]


def test_hook_codex_on_train_end(register_codex_plugin, codex_plugin_manager, tmp_path):
    ends = []
    register_codex_plugin(plugin(codex_on_train_end=lambda status, metrics: ends.append((status, metrics))),
                          "notifier")
    run, state = run_and_state(tmp_path)

    TrainEvents(codex_plugin_manager).train_end(run, state, "completed", {"val/loss": 1.0})

    assert ends == [("completed", {"val/loss": 1.0})]


def test_every_hook_has_a_test_named_after_it():
    hooks = sorted(n for n in dir(hookspecs) if n.startswith("codex_") and callable(getattr(hookspecs, n)))
    tests = {n for n in globals() if n.startswith("test_hook_")}

    assert [h for h in hooks if f"test_hook_{h}" not in tests] == []


def test_every_hook_is_documented_with_its_signature():
    import inspect

    docs = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"
    text = docs.read_text(encoding="utf-8")
    hooks = sorted(n for n in dir(hookspecs) if n.startswith("codex_") and callable(getattr(hookspecs, n)))
    missing = []
    for name in hooks:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        if f"{name}({params})" not in text:
            missing.append(f"{name}({params})")
    assert missing == []
