"""codex-telemetry: experiment loggers for codex, registered through the ``codex`` entry point.

Importing this package is cheap; the public names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "CSVLogger": "codex_telemetry.csv_logger",
    "CSVLoggerParams": "codex_telemetry.params",
}

__all__ = ["CSVLogger", "CSVLoggerParams", "__version__"]


__getattr__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:  # pragma: no cover
    from codex_telemetry.csv_logger import CSVLogger
    from codex_telemetry.params import CSVLoggerParams
