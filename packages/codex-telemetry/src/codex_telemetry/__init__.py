"""codex-telemetry: experiment loggers for codex, registered through the ``codex`` entry point.

Importing this package is cheap; the public names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "CSVLogger": "codex_telemetry.csv_logger",
    "CSVLoggerParams": "codex_telemetry.params",
}

__all__ = ["CSVLogger", "CSVLoggerParams", "__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codex_telemetry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from codex_telemetry.csv_logger import CSVLogger
    from codex_telemetry.params import CSVLoggerParams
