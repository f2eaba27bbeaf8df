"""The run config schema. Core owns it, so a config validates with codex-core alone;
components' own params are validated against their registered params models."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from codex_core.config.paths import PathMarker

COMPONENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("tokenizer", "tokenizer"),
    ("data", "dataset"),
    ("model", "model"),
    ("loggers.*", "logger"),
    ("metrics.*", "metric"),
    ("trainer.eval_tasks.*", "task"),
)
"""``(key, kind)`` of every component reference of a run config (``.*``: a list of them)."""


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ComponentRef(StrictModel):
    """A component by registered name (or alias), with its params.

    A bare string is shorthand for ``{name: <string>}``.
    """

    name: str = Field(description="registered component name or alias")
    params: dict[str, Any] = Field(
        default_factory=dict, description="the component's params (validated by its params model)"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


class EvalTaskRef(ComponentRef):
    """An evaluation task by registered name, with its params and an optional label (the
    results' name in ``eval/<label>/<key>``; default the task name)."""

    label: str | None = Field(None, description="names the results; default: the task name")

    @property
    def key(self) -> str:
        return self.label or self.name


class RunSection(StrictModel):
    """Naming and seeding of the run."""

    name: str | None = Field(None, description="run directory name; default: run-<timestamp>")
    seed: int = Field(1337, description="seed of model init, dropout and data order (the split has data.split.seed)")
    runs_dir: str | None = Field(None, description="runs root; default: $CODEX_RUNS_DIR or ./runs")
    description: str = Field("", description="free text recorded in the manifest")
    tags: list[str] = Field(default_factory=list, description="labels recorded in the manifest")


class SplitRatios(StrictModel):
    """Fractions of documents in each split (by a stable hash of their content, salted with
    ``seed``), and the seed of that split."""

    train: float = Field(0.98, ge=0, le=1)
    val: float = Field(0.01, ge=0, le=1)
    test: float = Field(0.01, ge=0, le=1)
    seed: int = Field(
        1337, description="salt of the split (and of which SFT examples are held out for validation); "
        "apart from run.seed, so runs of a seed sweep share one split and one token cache")

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitRatios:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split ratios must add up to 1, got {total:g}")
        if self.train <= 0:
            raise ValueError("the train split ratio must be above 0")
        return self


_SAFETY_WORDS = {"builtin": "builtin", "on": "builtin", "true": "builtin", "yes": "builtin",
                 "off": "off", "false": "off", "no": "off"}


def _safety_word(value: Any) -> Any:
    """YAML reads unquoted ``off``/``no``/``false`` as False and ``on``/``yes``/``true`` as True:
    those (and the same words quoted, in any case) mean ``off`` and ``builtin``."""
    if isinstance(value, bool):
        return "builtin" if value else "off"
    if isinstance(value, str):
        return _SAFETY_WORDS.get(value.strip().lower(), value)
    return value


SafetySetting = Annotated[
    str,
    BeforeValidator(_safety_word),
    PathMarker(keep=tuple(_SAFETY_WORDS)),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "boolean"}]}),
]
"""``builtin``, ``off`` or a policy file (relative to the config file that names it)."""


class DataSection(ComponentRef):
    """The dataset (a component reference), how it is split and filtered."""

    split: SplitRatios = Field(default_factory=SplitRatios)
    safety: SafetySetting = Field(
        "builtin",
        description="safety filters: builtin (the built-in rules; also on, yes, true), off (also no, false), "
        "or a policy YAML file (relative to the config file's folder)",
    )


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class EarlyStopping(StrictModel):
    """Stop when the monitored metric has not improved for ``patience`` evaluations."""

    patience: int = Field(5, ge=1, description="evaluations without improvement before stopping")
    min_delta: float = Field(0.0, ge=0, description="smallest change that counts as improvement")


class TrainerConfig(StrictModel):
    """Everything the training engine needs besides components. Core owns it; the torch
    engine in codex-models consumes it."""

    # limits (the first reached ends the run)
    max_steps: int | None = Field(1000, ge=1, description="optimizer steps")
    max_tokens: int | None = Field(None, ge=1, description="training tokens (all ranks)")
    max_time: float | None = Field(
        None, gt=0, description="wall-clock limit in seconds, or a duration like '30m', '2h'"
    )
    # batches
    seq_len: int = Field(256, ge=1, description="tokens per training window")
    micro_batch_size: int = Field(8, ge=1, description="windows per forward pass per rank")
    global_batch_size: int | None = Field(
        None, ge=1, description="windows per optimizer step over all ranks; default micro x ranks"
    )
    grad_accum_steps: int | None = Field(
        None, ge=1, description="micro batches per step per rank; default from global batch"
    )
    # optimizer
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = Field(3e-4, gt=0, description="peak learning rate")
    min_lr: float = Field(3e-5, ge=0, description="learning rate at the end of the decay")
    weight_decay: float = Field(0.1, ge=0, description="applied to matrices, not to biases/norms")
    betas: tuple[float, float] = Field((0.9, 0.95), description="AdamW betas")
    eps: float = Field(1e-8, gt=0)
    momentum: float = Field(0.9, ge=0, description="SGD momentum")
    fused: bool | None = Field(None, description="fused AdamW; default: where available")
    # schedule
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_steps: int = Field(100, ge=0)
    # numerics and speed
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps")
    grad_clip: float | None = Field(1.0, gt=0, description="max gradient norm; null to disable")
    activation_checkpointing: bool = Field(False, description="recompute activations in backward to save memory")
    compile: bool = Field(False, description="torch.compile the model")
    deterministic: bool = Field(
        False, description="torch.use_deterministic_algorithms (with CUBLAS_WORKSPACE_CONFIG on CUDA): "
        "bit-identical GPU runs, at some speed; an op without a deterministic version fails the run")
    distributed: Literal["ddp", "fsdp"] = Field(
        "ddp", description="how several processes (torchrun) share the model: ddp, or fsdp (FSDP2 fully_shard)"
    )
    dist_timeout: int = Field(
        300, ge=1, description="seconds a process of a multi-process run waits for the others (to join, or in a "
        "collective) before it stops with an error: a lost or hung node ends the run instead of holding it"
    )
    peak_flops: float | None = Field(
        None, gt=0, description="peak FLOP/s of one device, for MFU; default: measured with a dense matmul at start"
    )
    # evaluation and logging
    log_every: int = Field(10, ge=1, description="steps between logged training metrics")
    eval_every: int = Field(200, ge=1, description="steps between evaluations")
    eval_batches: int = Field(20, ge=1, description="validation batches per evaluation")
    eval_tasks: list[EvalTaskRef] = Field(
        default_factory=list,
        description="evaluation tasks run every eval_every steps, logged as eval/<label>/<key> "
        "(trainer.monitor may name one of those keys)",
    )
    # checkpoints
    checkpoint_every: int = Field(500, ge=1, description="steps between checkpoints")
    keep_last: int = Field(2, ge=1, description="most recent checkpoints kept")
    keep_best: int = Field(1, ge=0, description="best checkpoints kept (by monitor)")
    monitor: str = Field("val/loss", description="metric for best checkpoints and early stopping")
    monitor_mode: Literal["min", "max"] = "min"
    early_stopping: EarlyStopping | None = None

    @field_validator("max_time", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _DURATION.match(value)
            if not match:
                raise ValueError("expected seconds or a duration like '90s', '30m', '2h'")
            return float(match[1]) * _UNIT[match[2]]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TrainerConfig:
        if self.max_steps is None and self.max_tokens is None and self.max_time is None:
            raise ValueError("set at least one of max_steps, max_tokens, max_time")
        if self.global_batch_size is not None and self.global_batch_size % self.micro_batch_size:
            raise ValueError(
                f"global_batch_size ({self.global_batch_size}) must be a multiple of "
                f"micro_batch_size ({self.micro_batch_size})"
            )
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({self.min_lr:g}) must not exceed lr ({self.lr:g})")
        labels = [task.key for task in self.eval_tasks]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"eval_tasks name {', '.join(twice)} more than once; give each a distinct label")
        return self


class TelemetrySection(StrictModel):
    """System metrics sampled in the background while a run trains (by codex-telemetry,
    when installed) and logged to the run's loggers under ``system/``."""

    system_metrics: bool = Field(True, description="sample CPU, memory, disk and network (psutil)")
    interval: float = Field(10.0, gt=0, description="seconds between samples")
    gpu: bool = Field(True, description="also sample GPUs through NVML, where NVML is available")


class RunConfig(StrictModel):
    """A complete run: what to train on, with what, and how."""

    run: RunSection = Field(default_factory=RunSection)
    tokenizer: ComponentRef
    data: DataSection
    model: ComponentRef
    loggers: list[ComponentRef] = Field(default_factory=list)
    metrics: list[ComponentRef] = Field(default_factory=list)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    telemetry: TelemetrySection = Field(default_factory=TelemetrySection)

    def component_refs(self) -> list[tuple[str, str, ComponentRef]]:
        """``(kind, key path, ref)`` for every component the config names."""
        refs: list[tuple[str, str, ComponentRef]] = []
        for key, kind in COMPONENT_FIELDS:
            node: Any = self
            for part in (key[:-2] if key.endswith(".*") else key).split("."):
                node = getattr(node, part)
            if key.endswith(".*"):
                refs += [(kind, f"{key[:-2]}.{i}", ref) for i, ref in enumerate(node)]
            else:
                refs.append((kind, key, node))
        return refs

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        import yaml

        return str(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))

    def hash(self) -> str:
        """sha256 of the canonical JSON of the resolved config: same config, same hash."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
