"""Loading plugins from entry points: isolation, allow/deny lists, compatibility, strictness."""

from __future__ import annotations

import json

import pytest

from codex_core.errors import PluginError
from codex_core.plugins import PluginManager

GOOD = """
from codex_core import hookimpl

@hookimpl
def codex_register_metrics(register):
    register("always-one", "{module}:AlwaysOne", description="a metric that is always 1")

class AlwaysOne:
    def update(self, predictions, references): pass
    def compute(self): return {{"one": 1.0}}
    def merge(self, other): pass
    def reset(self): pass
"""

BROKEN = """
raise RuntimeError("this plugin is broken on purpose")
"""


def good(module: str) -> str:
    return GOOD.format(module=module)


def test_a_plugin_that_raises_at_import_is_listed_as_error_and_others_work(plugin_site, codex):
    site = plugin_site("broken-plugin", "broken_plugin_mod", BROKEN)
    plugin_site("good-plugin", "good_plugin_mod", good("good_plugin_mod"))

    listed = codex("plugins", "list", "--json", extra_path=site)
    validated = codex("config", "show", "trainer.max_steps=5", extra_path=site)

    by_name = {p["name"]: p for p in json.loads(listed.stdout)}
    assert listed.returncode == 0, listed.stderr
    assert by_name["broken-plugin"]["status"] == "error"
    assert "this plugin is broken on purpose" in by_name["broken-plugin"]["error"]
    assert by_name["good-plugin"]["components"] == {"metric": ["always-one"]}
    assert validated.returncode == 0 and "max_steps: 5" in validated.stdout


def test_strict_mode_reraises_a_plugin_failure(plugin_site, codex):
    site = plugin_site("broken-plugin", "broken_plugin_mod", BROKEN)

    result = codex("plugins", "list", extra_path=site, env={"CODEX_STRICT_PLUGINS": "1"})

    assert result.returncode == 2
    assert "broken-plugin" in result.stderr and "broken on purpose" in result.stderr
    assert "Traceback" not in result.stderr


def test_allow_list_loads_only_named_plugins_and_never_imports_the_others(plugin_site, monkeypatch):
    site = plugin_site("broken-plugin", "allow_broken_mod", BROKEN)
    plugin_site("good-plugin", "allow_good_mod", good("allow_good_mod"))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "good-plugin")

    manager = PluginManager()

    statuses = {i.name: i.status for i in manager.infos()}
    assert statuses["good-plugin"] == "ok"
    assert statuses["broken-plugin"] == "disabled"
    assert all(s == "disabled" for n, s in statuses.items() if n != "good-plugin")


def test_empty_allow_list_loads_no_plugin(plugin_site, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_site("good-plugin", "empty_good_mod", good("empty_good_mod"))))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "")

    manager = PluginManager()

    assert {i.status for i in manager.infos()} == {"disabled"}
    assert manager.registry.list() == []


def test_deny_list_matches_the_distribution_name_before_import(plugin_site, monkeypatch):
    site = plugin_site("Broken_Dist", "deny_broken_mod", BROKEN, entry_point="short-name")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("CODEX_DISABLE_PLUGINS", "broken-dist")

    manager = PluginManager()

    info = next(i for i in manager.infos() if i.name == "short-name")
    assert (info.status, info.error) == ("disabled", None)


def test_a_plugin_requiring_another_core_is_incompatible_and_not_imported(plugin_site, monkeypatch):
    site = plugin_site("future-plugin", "future_plugin_mod", BROKEN, requires=("codex-core>=1!0.5",))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "future-plugin")

    info = next(i for i in PluginManager().infos() if i.name == "future-plugin")

    assert info.status == "incompatible"
    assert "requires codex-core>=1!0.5" in (info.error or "")


def test_a_plugin_built_for_the_unrelated_epoch_0_codex_core_is_incompatible(plugin_site, monkeypatch):
    site = plugin_site("old-plugin", "old_plugin_mod", BROKEN, requires=("codex-core>=0.1,<0.2",))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "old-plugin")

    info = next(i for i in PluginManager().infos() if i.name == "old-plugin")

    assert (info.status, info.error) == (
        "incompatible", "old-plugin 1.0.0 requires codex-core>=0.1,<0.2, but codex-core 1!0.3.0 is installed")


def test_requirements_of_extras_do_not_make_a_plugin_incompatible(plugin_site, monkeypatch):
    source = good("extra_req_mod")
    site = plugin_site("extra-plugin", "extra_req_mod", source,
                       requires=("codex-core>=1!0.3,<1!1", 'codex-core>=9; extra == "future"'))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "extra-plugin")

    info = next(i for i in PluginManager().infos() if i.name == "extra-plugin")

    assert info.status == "ok"


def test_a_hook_with_no_matching_spec_is_reported(plugin_site, monkeypatch):
    source = """
from codex_core import hookimpl

@hookimpl
def codex_register_modles(register):
    pass
"""
    monkeypatch.syspath_prepend(str(plugin_site("typo-plugin", "typo_plugin_mod", source)))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "typo-plugin")

    info = next(i for i in PluginManager().infos() if i.name == "typo-plugin")

    assert info.status == "ok"
    assert info.warnings == [
        "hook 'codex_register_modles' matches no codex hookspec (did you mean 'codex_register_models'?)"
    ]


def test_a_hook_with_a_wrong_argument_is_a_registration_error(plugin_site, monkeypatch):
    source = """
from codex_core import hookimpl

@hookimpl
def codex_register_models(registr):
    pass
"""
    monkeypatch.syspath_prepend(str(plugin_site("badarg-plugin", "badarg_plugin_mod", source)))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "badarg-plugin")

    info = next(i for i in PluginManager().infos() if i.name == "badarg-plugin")

    assert info.status == "error"
    assert "registr" in (info.error or "")


def test_a_plugin_failing_in_registration_loses_all_its_components(plugin_site, monkeypatch):
    source = """
from codex_core import hookimpl

@hookimpl
def codex_register_metrics(register):
    register("half-registered", lambda: None)

@hookimpl
def codex_register_models(register):
    raise ValueError("cannot register models today")
"""
    monkeypatch.syspath_prepend(str(plugin_site("half-plugin", "half_plugin_mod", source)))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "half-plugin")

    manager = PluginManager()
    info = next(i for i in manager.infos() if i.name == "half-plugin")

    assert info.status == "error" and "cannot register models today" in (info.error or "")
    assert ("metric", "half-registered") not in manager.registry


def test_two_plugins_registering_one_name_is_an_error_naming_both(plugin_site, monkeypatch):
    first = plugin_site("aaa-plugin", "clash_a_mod", good("clash_a_mod"))
    plugin_site("bbb-plugin", "clash_b_mod", good("clash_b_mod"))
    monkeypatch.syspath_prepend(str(first))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "aaa-plugin,bbb-plugin")

    manager = PluginManager()
    infos = {i.name: i for i in manager.infos()}

    assert infos["aaa-plugin"].status == "ok"
    assert infos["bbb-plugin"].status == "error"
    assert "'aaa-plugin' and 'bbb-plugin'" in (infos["bbb-plugin"].error or "")
    assert manager.registry.get("metric", "always-one").plugin == "aaa-plugin"


def test_strict_mode_raises_on_a_name_clash(plugin_site, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_site("aaa-plugin", "strict_a_mod", good("strict_a_mod"))))
    plugin_site("bbb-plugin", "strict_b_mod", good("strict_b_mod"))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "aaa-plugin,bbb-plugin")
    monkeypatch.setenv("CODEX_STRICT_PLUGINS", "1")

    with pytest.raises(PluginError, match="registered by two plugins"):
        _ = PluginManager().registry


def test_allow_list_items_may_have_spaces(plugin_site, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_site("good-plugin", "space_good_mod", good("space_good_mod"))))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "nothing-else , good-plugin ")

    info = next(i for i in PluginManager().infos() if i.name == "good-plugin")

    assert info.status == "ok"


def test_a_hook_may_accept_fewer_arguments_than_the_spec(plugin_site, monkeypatch):
    source = """
from codex_core import hookimpl

@hookimpl
def codex_register_commands():
    pass
"""
    monkeypatch.syspath_prepend(str(plugin_site("noarg-plugin", "noarg_plugin_mod", source)))
    monkeypatch.setenv("CODEX_LOAD_PLUGINS", "noarg-plugin")
    manager = PluginManager()

    manager.add_commands(__import__("click").Group())

    assert next(i for i in manager.infos() if i.name == "noarg-plugin").status == "ok"


COMMAND = """
import click
from codex_core import hookimpl

@hookimpl
def codex_register_commands(cli):
    @cli.command({name!r})
    def cmd():
        click.echo("from {dist}")
"""


def test_a_plugin_command_cannot_replace_a_builtin_or_another_plugins(plugin_site, codex):
    site = plugin_site("aaa-cmd", "aaa_cmd_mod", COMMAND.format(name="hello", dist="aaa-cmd"))
    plugin_site("bbb-cmd", "bbb_cmd_mod", COMMAND.format(name="hello", dist="bbb-cmd"))
    plugin_site("ccc-cmd", "ccc_cmd_mod", COMMAND.format(name="config", dist="ccc-cmd"))
    env = {"CODEX_LOAD_PLUGINS": "aaa-cmd,bbb-cmd,ccc-cmd"}

    hello = codex("hello", extra_path=site, env=env)
    config = codex("config", "show", extra_path=site, env=env)

    assert hello.stdout == "from aaa-cmd\n"
    assert "plugin bbb-cmd: command 'hello' is already provided by aaa-cmd; not added" in hello.stderr
    assert "plugin ccc-cmd: command 'config' is already provided by codex itself; not added" in hello.stderr
    assert config.returncode == 0 and config.stdout.startswith("# config hash")


def test_quiet_silences_plugin_warnings_and_the_default_shows_them_prefixed(plugin_site, codex):
    source = """
from codex_core import hookimpl

@hookimpl
def codex_register_modles(register):
    pass
"""
    site = plugin_site("typo-plugin", "quiet_typo_mod", source)
    env = {"CODEX_LOAD_PLUGINS": "typo-plugin"}

    loud = codex("--help", extra_path=site, env=env)
    quiet = codex("-q", "--help", extra_path=site, env=env)

    assert "codex: WARNING: plugin typo-plugin: hook 'codex_register_modles' matches no codex hookspec" in loud.stderr
    assert quiet.stderr == ""
