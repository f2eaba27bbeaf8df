"""codex-telemetry: experiment loggers for codex, registered through the ``codex`` entry point.

Importing this package is cheap; the public names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core.lazy import lazy_exports

__version__ = "1!0.3.0"

_LAZY = {
    "CSVLogger": "codex_telemetry.csv_logger",
    "CSVLoggerParams": "codex_telemetry.params",
    "ConsoleLogger": "codex_telemetry.console_logger",
    "ConsoleLoggerParams": "codex_telemetry.params",
    "MLflowLogger": "codex_telemetry.mlflow_logger",
    "MLflowLoggerParams": "codex_telemetry.params",
    "TensorBoardLogger": "codex_telemetry.tensorboard_logger",
    "TensorBoardLoggerParams": "codex_telemetry.params",
    "plot_runs": "codex_telemetry.plot",
}

__all__ = [
    "CSVLogger",
    "CSVLoggerParams",
    "ConsoleLogger",
    "ConsoleLoggerParams",
    "MLflowLogger",
    "MLflowLoggerParams",
    "TensorBoardLogger",
    "TensorBoardLoggerParams",
    "__version__",
    "plot_runs",
]


__getattr__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:  # pragma: no cover
    from codex_telemetry.console_logger import ConsoleLogger
    from codex_telemetry.csv_logger import CSVLogger
    from codex_telemetry.mlflow_logger import MLflowLogger
    from codex_telemetry.params import (
        ConsoleLoggerParams,
        CSVLoggerParams,
        MLflowLoggerParams,
        TensorBoardLoggerParams,
    )
    from codex_telemetry.plot import plot_runs
    from codex_telemetry.tensorboard_logger import TensorBoardLogger
