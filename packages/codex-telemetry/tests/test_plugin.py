"""The plugin module: registration is cheap and names the components codex expects."""

from __future__ import annotations

from codex_core.config import load_config
from codex_core.registry import Registry


def test_the_entry_point_registers_the_loggers(codex_installed_registry: Registry) -> None:
    assert sorted(codex_installed_registry.by_plugin("telemetry")["logger"]) == ["console", "csv", "mlflow", "tensorboard", "wandb"]


def test_the_default_run_config_loggers_validate(codex_installed_registry: Registry) -> None:
    refs = load_config().config.loggers
    assert [codex_installed_registry.get("logger", r.name).validate_params(r.params) is not None for r in refs] == [True]
