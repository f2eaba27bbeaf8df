"""Codex core: the plugin contract, registry, protocols, run config and run directories.

Importing this package is cheap (no pydantic, no torch): plugin modules import
``codex_core.hookimpl`` at start-up of every ``codex`` command. Everything else is
re-exported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from codex_core.lazy import lazy_exports

__version__ = "1!0.3.0"

PROJECT_NAME = "codex"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker for a plugin's hook implementations: ``@codex_core.hookimpl``."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marker for hook specifications (used by ``codex_core.hookspecs``)."""

_LAZY = {
    "BuildContext": "codex_core.context",
    "ComponentKind": "codex_core.registry",
    "ComponentSpec": "codex_core.registry",
    "Registry": "codex_core.registry",
    "KINDS": "codex_core.registry",
    "PluginManager": "codex_core.plugins",
    "TrainEvents": "codex_core.events",
    "TrainState": "codex_core.events",
    "PluginInfo": "codex_core.plugins",
    "get_plugin_manager": "codex_core.plugins",
    "CodexError": "codex_core.errors",
    "ConfigError": "codex_core.errors",
    "ComponentError": "codex_core.errors",
    "Tokenizer": "codex_core.protocols",
    "Encoding": "codex_core.protocols",
    "Connector": "codex_core.protocols",
    "Located": "codex_core.protocols",
    "Dataset": "codex_core.protocols",
    "Document": "codex_core.protocols",
    "Metric": "codex_core.protocols",
    "Logger": "codex_core.protocols",
    "LoggerFanout": "codex_core.fanout",
    "RunDir": "codex_core.runs",
    "new_run_name": "codex_core.runs",
    "resolve_run": "codex_core.runs",
    "runs_root": "codex_core.runs",
    "cache_root": "codex_core.runs",
    "atomic_write": "codex_core.fsutil",
    "atomic_dir": "codex_core.fsutil",
    "sha256_file": "codex_core.fsutil",
    "fsync_tree": "codex_core.fsutil",
    "CheckpointInfo": "codex_core.checkpoints",
    "load_config": "codex_core.config",
    "RunConfig": "codex_core.config",
}

__all__ = ["__version__", "hookimpl", "hookspec", *_LAZY]


__getattr__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from codex_core.checkpoints import CheckpointInfo
    from codex_core.config import RunConfig, load_config
    from codex_core.context import BuildContext
    from codex_core.errors import CodexError, ComponentError, ConfigError
    from codex_core.events import TrainEvents, TrainState
    from codex_core.fanout import LoggerFanout
    from codex_core.fsutil import atomic_dir, atomic_write, fsync_tree, sha256_file
    from codex_core.plugins import PluginInfo, PluginManager, get_plugin_manager
    from codex_core.protocols import (
        Connector,
        Dataset,
        Document,
        Encoding,
        Located,
        Logger,
        Metric,
        Tokenizer,
    )
    from codex_core.registry import KINDS, ComponentKind, ComponentSpec, Registry
    from codex_core.runs import RunDir, cache_root, new_run_name, resolve_run, runs_root
