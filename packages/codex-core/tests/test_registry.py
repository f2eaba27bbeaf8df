"""The registry: registering, resolving and building components."""

from __future__ import annotations

import sys
import textwrap
import types

import pytest
from pydantic import BaseModel, ConfigDict

from codex_core import hookimpl
from codex_core.context import BuildContext
from codex_core.errors import ComponentError


class GreeterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str = "hello"
    times: int = 1


class Greeter:
    def __init__(self, params: GreeterParams, context: BuildContext) -> None:
        self.params = params
        self.context = context

    def greet(self) -> str:
        return " ".join([self.params.greeting] * self.params.times)


class GreeterPlugin:
    @hookimpl
    def codex_register_models(self, register):
        register("greeter", Greeter, config=GreeterParams, aliases=("hi",), description="greets")
        register("gpt2", lambda: "a gpt2")


def test_build_validates_params_and_passes_the_context(register_codex_plugin, codex_registry):
    register_codex_plugin(GreeterPlugin(), "greeter-plugin")
    context = BuildContext(registry=codex_registry, seed=7, rank=1, world_size=2)

    greeter = codex_registry.build("model", "greeter", {"greeting": "hey", "times": 2}, context=context)

    assert greeter.greet() == "hey hey"
    assert (greeter.context.seed, greeter.context.rank, greeter.context.world_size) == (7, 1, 2)


def test_an_alias_resolves_to_the_component(register_codex_plugin, codex_registry):
    register_codex_plugin(GreeterPlugin(), "greeter-plugin")

    assert codex_registry.get("model", "hi").name == "greeter"


def test_an_unknown_name_suggests_the_closest_and_lists_installed(register_codex_plugin, codex_registry):
    register_codex_plugin(GreeterPlugin(), "greeter-plugin")

    with pytest.raises(ComponentError) as err:
        codex_registry.build("model", "gtp2")

    assert str(err.value) == "unknown model 'gtp2'; did you mean 'gpt2'?; installed: gpt2, greeter"


def test_an_unknown_param_key_is_an_error_with_a_hint(register_codex_plugin, codex_registry):
    register_codex_plugin(GreeterPlugin(), "greeter-plugin")

    with pytest.raises(ComponentError, match=r"unknown key 'greting'.*did you mean 'greeting'"):
        codex_registry.build("model", "greeter", {"greting": "hey"})


def test_a_wrong_param_type_names_key_value_and_type(register_codex_plugin, codex_registry):
    register_codex_plugin(GreeterPlugin(), "greeter-plugin")

    with pytest.raises(ComponentError, match=r"times: expected a valid integer.*got 'many' \(str\)"):
        codex_registry.build("model", "greeter", {"times": "many"})


def test_params_for_a_component_without_a_params_model_are_an_error(register_codex_plugin, codex_registry):
    register_codex_plugin(GreeterPlugin(), "greeter-plugin")

    with pytest.raises(ComponentError, match="takes no params"):
        codex_registry.build("model", "gpt2", {"n_layer": 2})


def test_a_kind_with_nothing_installed_names_the_package_to_install(codex_registry):
    with pytest.raises(ComponentError, match="install codex-telemetry"):
        codex_registry.get("logger", "csv")


def test_a_bad_factory_reference_fails_at_registration(register_codex_plugin, codex_registry):
    class Bad:
        @hookimpl
        def codex_register_models(self, register):
            register("bad", "not a reference")

    info = register_codex_plugin(Bad(), "bad-plugin")

    assert info.status == "error" and "factory must be a callable" in (info.error or "")


def test_lazy_factory_and_config_are_imported_only_when_built(tmp_path, monkeypatch, register_codex_plugin,
                                                             codex_registry):
    (tmp_path / "lazy_factory_mod.py").write_text(textwrap.dedent("""
        class Thing:
            def __init__(self, params):
                self.size = params.size
    """))
    (tmp_path / "lazy_config_mod.py").write_text(textwrap.dedent("""
        from pydantic import BaseModel
        class ThingParams(BaseModel):
            size: int = 3
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin = types.SimpleNamespace(
        codex_register_datasets=hookimpl(
            lambda register: register("thing", "lazy_factory_mod:Thing", config="lazy_config_mod:ThingParams")
        )
    )
    register_codex_plugin(plugin, "lazy-plugin")
    listed = [s.name for s in codex_registry.list("dataset")]
    assert listed == ["thing"]
    assert "lazy_factory_mod" not in sys.modules and "lazy_config_mod" not in sys.modules

    thing = codex_registry.build("dataset", "thing", {"size": 5})

    assert thing.size == 5
    assert {"lazy_factory_mod", "lazy_config_mod"} <= set(sys.modules)


def test_a_lazy_reference_that_cannot_import_is_a_clear_error(register_codex_plugin, codex_registry):
    plugin = types.SimpleNamespace(
        codex_register_datasets=hookimpl(lambda register: register("ghost", "no_such_module_xyz:Ghost"))
    )
    register_codex_plugin(plugin, "ghost-plugin")

    with pytest.raises(ComponentError, match=r"cannot import the factory 'no_such_module_xyz:Ghost' of dataset 'ghost'"):
        codex_registry.build("dataset", "ghost")


def test_context_build_asks_the_registry_for_another_component(register_codex_plugin, codex_registry):
    register_codex_plugin(GreeterPlugin(), "greeter-plugin")
    context = BuildContext(registry=codex_registry)

    assert context.build("model", "hi", {"greeting": "yo"}).greet() == "yo"


def test_an_unknown_kind_is_an_error(codex_registry):
    with pytest.raises(ComponentError, match="unknown component kind 'modle'; did you mean 'model'"):
        codex_registry.list("modle")
