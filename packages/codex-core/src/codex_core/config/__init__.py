"""Run config: schema, loading (extends, env, overrides, config-relative paths), sweeps
and schema export."""

from codex_core.config.loader import (
    LoadedConfig,
    default_config_text,
    load_config,
    load_tree,
    read_text_file,
    validate_tree,
)
from codex_core.config.overrides import apply_overrides, parse_override
from codex_core.config.paths import ConfigPath, ParamsOf, resolve_path
from codex_core.config.schema import (
    ComponentRef,
    DataSection,
    RunConfig,
    RunSection,
    SplitRatios,
    TelemetrySection,
    TrainerConfig,
)
from codex_core.config.sweep import SweepPoint, expand_sweeps

__all__ = [
    "ComponentRef",
    "ConfigPath",
    "DataSection",
    "LoadedConfig",
    "ParamsOf",
    "RunConfig",
    "RunSection",
    "SplitRatios",
    "SweepPoint",
    "TelemetrySection",
    "TrainerConfig",
    "apply_overrides",
    "default_config_text",
    "expand_sweeps",
    "load_config",
    "load_tree",
    "parse_override",
    "read_text_file",
    "resolve_path",
    "validate_tree",
]
