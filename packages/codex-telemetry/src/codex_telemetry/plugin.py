"""The codex plugin module of codex-telemetry (named in its `codex` entry point).

Registers components by lazy ``"module:attr"`` references: importing this module imports
nothing but ``codex_core.hookimpl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.registry import RegisterFn


@hookimpl
def codex_register_loggers(register: RegisterFn) -> None:
    register(
        "csv",
        "codex_telemetry.csv_logger:CSVLogger",
        config="codex_telemetry.params:CSVLoggerParams",
        description="metrics as CSV rows (default <run dir>/metrics.csv), params as params.json",
    )
