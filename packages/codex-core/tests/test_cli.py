"""The ``codex`` command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from codex_core.runs import RunDir

HEAVY = ("torch", "transformers", "peft", "mlflow", "pydantic", "yaml")


def imported_after(argv: list[str]) -> list[str]:
    """Run the CLI in a fresh interpreter and list the heavy modules it imported."""
    code = textwrap.dedent(f"""
        import sys
        from codex_core.cli import main
        try:
            main({argv!r})
        except SystemExit:
            pass
        heavy = {HEAVY!r}
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy or m.endswith(".params"))
        print("LOADED=" + ",".join(loaded))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    line = next(x for x in out.stdout.splitlines() if x.startswith("LOADED="))
    return [m for m in line.removeprefix("LOADED=").split(",") if m]


@pytest.mark.parametrize("argv", [["plugins", "list"], ["--help"], ["plugins", "list", "--json"]])
def test_listing_plugins_and_help_import_no_heavy_module(argv):
    assert imported_after(argv) == []


def test_plugins_list_json_has_the_documented_shape(codex):
    result = codex("plugins", "list", "--json")

    entries = json.loads(result.stdout)
    assert result.returncode == 0
    assert entries, "the sibling packages are installed in the test environment"
    for entry in entries:
        assert set(entry) == {"name", "distribution", "version", "status", "error", "components", "warnings", "installed_by"}
        assert entry["status"] in {"ok", "error", "disabled", "incompatible"}
        assert all(isinstance(names, list) for names in entry["components"].values())


def test_plugins_list_kind_filters_components(codex):
    entries = json.loads(codex("plugins", "list", "--json", "--kind", "tokenizer").stdout)

    assert entries and all(set(e["components"]) == {"tokenizer"} for e in entries)


def test_plugins_list_table_shows_a_row_per_plugin(codex):
    result = codex("plugins", "list", env={"CODEX_DISABLE_PLUGINS": "codex-models"})

    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DISTRIBUTION", "VERSION", "STATUS", "COMPONENTS"]
    assert any(line.split()[:4] == ["models", "codex-models", "1!0.3.0", "disabled"] for line in lines)


def test_version_lists_core_and_plugins(codex):
    result = codex("--version")

    assert result.stdout.startswith("codex-core 1!0.3.0\n")
    assert "plugin models: codex-models 1!0.3.0" in result.stdout


def test_a_command_of_a_disabled_package_says_which_package(codex):
    result = codex("logs", "tail", "latest", env={"CODEX_DISABLE_PLUGINS": "codex-telemetry"})

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: `codex logs` is provided by codex-telemetry 1!0.3.0, whose plugin is disabled; "
        "see codex plugins list"
    )


def run_in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``codex ARGV`` through ``codex_core.cli.main`` in this process: (status, stderr)."""
    from codex_core.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return int(exit_info.value.code or 0), capsys.readouterr().err


@pytest.fixture
def fresh_cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The ``codex`` group with no plugin commands yet and a plugin manager loaded afresh
    (under this test's environment), both restored after the test."""
    from codex_core import plugins
    from codex_core.cli.app import cli

    previous = plugins._manager
    monkeypatch.setattr(cli, "commands", {})
    monkeypatch.setattr(cli, "command_owners", {})
    plugins.reset_plugin_manager(None)
    yield
    plugins.reset_plugin_manager(previous)


def test_a_first_party_command_its_installed_package_lacks_is_no_such_command(codex):
    result = codex("serve")
    close = codex("srve")

    assert result.returncode == 2
    assert "no such command 'serve'" in result.stderr
    assert "upgrade" not in result.stderr and "not available" not in result.stderr
    assert close.returncode == 2 and "did you mean" not in close.stderr  # no serve to suggest


def test_a_hinted_command_of_a_loaded_package_is_an_ordinary_usage_error_with_a_suggestion(
    fresh_cli, capsys, monkeypatch
):
    from codex_core.cli import app

    monkeypatch.setitem(app.PROVIDED_BY, "plugins-extra", "codex-core")

    status, err = run_in_process(["plugins-extra"], capsys)

    assert status == 2
    assert "no such command 'plugins-extra'; did you mean 'plugins'?" in err
    assert "provided by" not in err


def test_a_command_whose_package_is_not_installed_says_so(fresh_cli, capsys, monkeypatch):
    import importlib.metadata as metadata

    real_version = metadata.version

    def version(dist: str) -> str:
        if dist == "codex-models":
            raise metadata.PackageNotFoundError(dist)
        return real_version(dist)

    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "")
    monkeypatch.setattr(metadata, "version", version)

    status, err = run_in_process(["train"], capsys)
    _, typo = run_in_process(["trian"], capsys)

    assert status == 2
    assert err.strip() == "error: `codex train` is provided by codex-models, which is not installed " \
                          "(pip install codex-models)"
    assert "did you mean 'train'?" in typo


def test_help_lists_only_commands_that_exist(codex):
    result = codex("--help", env={"CODEX_LOAD_PLUGINS": ""})

    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == {"cache", "completion", "config", "plugins", "runs"}


def test_an_unknown_command_suggests_one(codex):
    result = codex("plugin", "list")

    assert result.returncode == 2
    assert "no such command 'plugin'; did you mean 'plugins'?" in result.stderr


def test_user_errors_are_one_line_with_status_2_and_debug_shows_the_traceback(codex, tmp_path):
    missing = tmp_path / "nope.yaml"

    plain = codex("config", "validate", "-c", str(missing))
    debug = codex("--debug", "config", "validate", "-c", str(missing))

    assert plain.returncode == 2
    assert plain.stderr == f"error: config file {missing} not found; check the path\n"
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_config_show_applies_overrides_and_prints_yaml(codex):
    result = codex("config", "show", "trainer.max_steps=7", "loggers-=csv")

    assert result.returncode == 0, result.stderr
    assert "max_steps: 7" in result.stdout and "loggers: []" in result.stdout


def test_config_show_sweep_json_lists_each_point(codex):
    result = codex("config", "show", "--json", "--sweep", "trainer.lr=1e-3,2e-3", "--sweep", "run.seed=1,2")

    points = json.loads(result.stdout)
    assert len(points) == 4
    assert {p["config"]["trainer"]["lr"] for p in points} == {1e-3, 2e-3}
    assert len({p["id"] for p in points}) == len({p["hash"] for p in points}) == 4


def test_config_validate_checks_component_params(codex, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tokenizer: char\ndata: stdlib-code\nmodel: {name: gpt2, params: {n_layers: 3}}\n")

    result = codex("config", "validate", "-c", str(bad))

    assert result.returncode == 2
    assert "model: unknown key 'n_layers' (params of model 'gpt2'); did you mean 'n_layer'?" in result.stderr


def test_config_validate_accepts_a_good_config(codex, tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("tokenizer: char\ndata: stdlib-code\nmodel: gpt2\nloggers: [csv]\n")

    result = codex("config", "validate", "-c", str(good), "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["warnings"] == []


def test_config_validate_warns_about_components_not_installed_and_strict_fails(codex, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tokenizer: char\ndata: stdlib-code\nmodel: gpt2\nloggers: [csv]\n")
    env = {"CODEX_DISABLE_PLUGINS": "codex-telemetry"}

    lenient = codex("config", "validate", "-c", str(cfg), env=env)
    strict = codex("config", "validate", "-c", str(cfg), "--strict", env=env)

    assert lenient.returncode == 0
    assert "warning: loggers.0: logger 'csv' is not installed here (not checked)" in lenient.stderr
    assert strict.returncode == 2 and "unknown logger 'csv'" in strict.stderr


def test_config_schema_includes_each_components_params(codex):
    schema = json.loads(codex("config", "schema").stdout)

    model_choices = schema["$defs"]["modelRef"]["anyOf"]
    gpt2 = next(c for c in model_choices if "gpt2" in c["properties"]["name"]["enum"])
    assert "n_layer" in gpt2["properties"]["params"]["properties"]
    assert "trainer" in schema["properties"]


def test_config_diff_lists_changed_keys(codex, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(codex("config", "show", "trainer.lr=0.002").stdout)

    result = codex("config", "diff", "default", str(other), "--json")

    assert json.loads(result.stdout) == [{"key": "trainer.lr", "a": 0.003, "b": 0.002, "change": "changed"}]


def test_runs_list_show_and_rm(codex, tmp_path):
    run = RunDir.create(tmp_path, "exp1", config_yaml="run: {}\n")
    run.log_metrics(5, {"train/loss": 1.5})
    run.unlock()
    env = {"CODEX_RUNS_DIR": str(tmp_path)}

    listed = json.loads(codex("runs", "list", "--json", env=env).stdout)
    shown = json.loads(codex("runs", "show", "latest", "--json", env=env).stdout)
    removed = codex("runs", "rm", "exp1", "--yes", env=env)

    assert [(r["name"], r["step"]) for r in listed] == [("exp1", 5)]
    assert shown["metrics"]["train/loss"] == {"value": 1.5, "step": 5}
    assert removed.returncode == 0 and not run.path.exists()


def test_runs_rm_refuses_a_run_in_use(codex, tmp_path):
    run = RunDir.create(tmp_path, "busy")  # this test process holds the lock

    result = codex("runs", "rm", "busy", "--yes", env={"CODEX_RUNS_DIR": str(tmp_path)})

    assert result.returncode == 2 and "in use by pid" in result.stderr
    assert run.path.exists()
    run.unlock()


def test_cache_info_and_clear(codex, tmp_path):
    cache = tmp_path / "cache"
    (cache / "tokenizers").mkdir(parents=True)
    (cache / "tokenizers" / "t.json").write_text("x" * 100)
    env = {"CODEX_HOME": str(cache)}

    info = json.loads(codex("cache", "info", "--json", env=env).stdout)
    cleared = codex("cache", "clear", "--yes", env=env)

    assert info["entries"] == [{"name": "tokenizers", "bytes": 100}]
    assert cleared.returncode == 0 and list(cache.iterdir()) == []


def test_cache_clear_of_an_unknown_entry_is_an_error(codex, tmp_path):
    (tmp_path / "cache").mkdir()

    result = codex("cache", "clear", "nothing", "--yes", env={"CODEX_HOME": str(tmp_path / "cache")})

    assert result.returncode == 2 and "no cache entry 'nothing'" in result.stderr


def test_shell_completion_script_is_printed(codex):
    result = codex("completion", "bash")

    assert result.returncode == 0 and "_CODEX_COMPLETE" in result.stdout


def wait_until_reading_a_pipe(pid: int, timeout: float = 10.0) -> None:
    """Return once process ``pid`` sleeps in a pipe read as Linux reports it in
    /proc/PID/wchan; at once without /proc, after ``timeout`` where wchan does not tell."""
    import time

    wchan = Path(f"/proc/{pid}/wchan")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = wchan.read_text()
        except OSError:  # no /proc here, or the process has ended: nothing to wait for
            return
        if "pipe_read" in text:
            return
        time.sleep(0.01)


def test_ctrl_c_at_a_prompt_exits_130_and_declining_exits_1(tmp_path):
    import os
    import signal

    RunDir.create(tmp_path, "keep").unlock()
    env = {**os.environ, "CODEX_RUNS_DIR": str(tmp_path)}
    argv = [sys.executable, "-m", "codex_core", "runs", "rm", "keep"]

    declined = subprocess.run(argv, input="n\n", capture_output=True, text=True, env=env, timeout=60)
    # A job started in the background (as CI may run us) inherits SIGINT ignored, and then
    # Python never raises KeyboardInterrupt: give the child the default disposition.
    prompt = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert prompt.stdout is not None
    assert prompt.stdout.read(len("delete run keep")) == "delete run keep"
    # input() writes the prompt, then reads: a SIGINT that lands in between only sets Python's
    # flag, and the read then blocks for good. Signal once the child waits in the read.
    wait_until_reading_a_pipe(prompt.pid)
    prompt.send_signal(signal.SIGINT)
    prompt.wait(timeout=60)  # not communicate(): closing stdin would race the signal with an EOF
    assert prompt.stderr is not None
    err = prompt.stderr.read()
    for pipe in (prompt.stdin, prompt.stdout, prompt.stderr):
        if pipe is not None:
            pipe.close()

    assert (declined.returncode, declined.stderr.strip()) == (1, "Aborted.")
    assert prompt.returncode == 130 and err.strip() == "Interrupted."
    assert (tmp_path / "keep").exists()
