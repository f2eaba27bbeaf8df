"""Params models of the loggers in this package (pydantic only)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CSVLoggerParams(BaseModel):
    """Params of the ``csv`` logger."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(
        None,
        description="the CSV file; default: <run dir>/metrics.csv. A relative path is taken "
        "relative to the run directory when there is one",
    )
    flush_every: int = Field(
        1, ge=1, description="write to disk every this many log_metrics calls (and on close)"
    )


class TensorBoardLoggerParams(BaseModel):
    """Params of the ``tensorboard`` logger."""

    model_config = ConfigDict(extra="forbid")

    log_dir: str | None = Field(
        None,
        description="the folder of the event files; default: <run dir>/tb. A relative path is "
        "taken relative to the run directory when there is one",
    )
    flush_secs: float = Field(
        10.0, gt=0, description="seconds between flushes of the event file (and on close)"
    )


class MLflowLoggerParams(BaseModel):
    """Params of the ``mlflow`` logger."""

    model_config = ConfigDict(extra="forbid")

    tracking_uri: str | None = Field(
        None,
        description="the MLflow tracking store; default: sqlite:///<runs root>/mlflow.db (the "
        "runs root is the run directory's parent, else CODEX_RUNS_DIR or ./runs)",
    )
    experiment: str = Field("codex", min_length=1, description="the MLflow experiment name")
    run_name: str | None = Field(None, description="the MLflow run name; default: the run directory's name")
    artifact_location: str | None = Field(
        None,
        description="where a new experiment keeps its artifacts; default for a sqlite store: "
        "<runs root>/mlflow-artifacts/<experiment>; for other stores: the store's default",
    )
    tags: dict[str, str] = Field(default_factory=dict, description="tags set on the MLflow run")
    log_plot: bool = Field(
        True, description="on close, upload a loss plot (loss.png) when matplotlib is installed"
    )


class ConsoleLoggerParams(BaseModel):
    """Params of the ``console`` logger."""

    model_config = ConfigDict(extra="forbid")

    always: bool = Field(
        False,
        description="print on a terminal too (by default a terminal shows the trainer's "
        "progress bar instead, and this logger prints only when output is not a terminal)",
    )
    system: bool = Field(False, description="print system/* metrics too (left out by default)")
    stream: Literal["stdout", "stderr"] = Field("stdout", description="where the lines go")


class WandbLoggerParams(BaseModel):
    """Params of the ``wandb`` logger (Weights & Biases)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["offline", "online", "disabled"] = Field(
        "offline",
        description="offline: write the W&B run to files only (upload later with `wandb sync`); online: "
        "send it to the W&B server as well; disabled: log nothing. WANDB_MODE in the environment wins when set",
    )
    project: str | None = Field(
        None, min_length=1, description="the W&B project; default: $WANDB_PROJECT, else codex"
    )
    entity: str | None = Field(
        None, min_length=1, description="the W&B entity (user or team); default: $WANDB_ENTITY, else W&B's default"
    )
    name: str | None = Field(None, min_length=1, description="the W&B run name; default: the run directory's name")
    tags: list[str] = Field(default_factory=list, description="tags of the W&B run")
    group: str | None = Field(None, min_length=1, description="the W&B run group (e.g. a sweep or an ablation)")
    notes: str | None = Field(None, description="a description of the W&B run")
    dir: str | None = Field(
        None,
        description="the folder in which W&B makes its wandb/ folder; default: the one the run's W&B run "
        "is in (wandb_run.json), else the run directory. A relative path is taken relative to the run "
        "directory when there is one",
    )
