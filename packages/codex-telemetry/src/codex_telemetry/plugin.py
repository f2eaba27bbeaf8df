"""The codex plugin module of codex-telemetry (named in its `codex` entry point).

Registers components by lazy ``"module:attr"`` references: importing this module imports
nothing but ``codex_core.hookimpl`` and ``codex_telemetry.hooks`` (the training-event hooks,
which import psutil only when a run starts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core import hookimpl
from codex_telemetry.hooks import codex_on_train_end, codex_on_train_start

if TYPE_CHECKING:  # pragma: no cover
    import click

    from codex_core.registry import RegisterFn

__all__ = ["codex_on_train_end", "codex_on_train_start", "codex_register_commands", "codex_register_loggers"]


@hookimpl
def codex_register_loggers(register: RegisterFn) -> None:
    register(
        "csv",
        "codex_telemetry.csv_logger:CSVLogger",
        config="codex_telemetry.params:CSVLoggerParams",
        description="metrics as CSV rows (default <run dir>/metrics.csv), params as params.json",
    )
    register(
        "tensorboard",
        "codex_telemetry.tensorboard_logger:TensorBoardLogger",
        config="codex_telemetry.params:TensorBoardLoggerParams",
        description="TensorBoard event files (default <run dir>/tb); extra codex-telemetry[tensorboard]",
    )
    register(
        "mlflow",
        "codex_telemetry.mlflow_logger:MLflowLogger",
        config="codex_telemetry.params:MLflowLoggerParams",
        description="an MLflow run (default store sqlite:///<runs root>/mlflow.db); extra codex-telemetry[mlflow]",
    )
    register(
        "wandb",
        "codex_telemetry.wandb_logger:WandbLogger",
        config="codex_telemetry.params:WandbLoggerParams",
        description="a Weights & Biases run, offline by default (files in <run dir>/wandb; upload with "
        "wandb sync); extra codex-telemetry[wandb]",
    )
    register(
        "console",
        "codex_telemetry.console_logger:ConsoleLogger",
        config="codex_telemetry.params:ConsoleLoggerParams",
        description="one line per logging step when output is not a terminal",
    )


@hookimpl
def codex_register_commands(cli: click.Group) -> None:
    from codex_telemetry.cli import logs

    cli.add_command(logs)
