"""What every model family's params share (pydantic only: no torch here, so a config
validates without importing the model code): the ``device`` and ``dtype`` fields, LoRA
params, and :class:`PresetParams`, the base of a family whose shape comes from named presets.

A family's own params model lives in its file (``gpt2.py``, ``llama.py``, ``hf_local.py``)."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core.core_schema import ValidatorFunctionWrapHandler
from typing_extensions import Self

__all__ = ["CHAR_VOCAB_SIZE", "DEVICE_PATTERN", "Device", "Dtype", "LoRAParams", "PresetParams"]

CHAR_VOCAB_SIZE = 4 + 100
"""The vocabulary of the default ``char`` tokenizer: 4 special tokens (pad, bos, eos, unk)
plus the 100 characters of ``string.printable``."""

DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
"""The device strings a model's ``device`` field accepts (checked without importing torch;
whether the device exists on this machine is checked when the model is built)."""


def _check_device(value: str) -> str:
    if not DEVICE_PATTERN.fullmatch(value):
        raise ValueError(f"unknown device {value!r}; use auto, cpu, cuda, cuda:N (N a number) or mps")
    return value


Device = Annotated[str, AfterValidator(_check_device)]
"""A device string in the form DEVICE_PATTERN describes."""

Dtype = Literal["fp32", "bf16", "fp16"]
"""The dtypes a model can be built or loaded in."""


class LoRAParams(BaseModel):
    """LoRA adapters (through ``peft``) applied when the model is built: only the adapters
    train, the base weights are frozen."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(8, ge=1, description="rank of the low-rank update")
    alpha: float = Field(16.0, gt=0, description="scaling numerator: the update is scaled by alpha / r")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on the adapters' input")
    target_modules: list[str] | None = Field(
        None,
        description="module names (suffixes) to adapt; default per family: gpt2 c_attn, llama q_proj v_proj",
    )
    bias: Literal["none", "all", "lora_only"] = Field("none", description="which biases train too")


class PresetParams(BaseModel):
    """A family's params: a ``preset`` name plus architecture fields that override it.

    An architecture field left out (or None) takes the preset's value, so after validation
    every architecture field is set; :meth:`architecture` returns them as a plain dict.
    """

    model_config = ConfigDict(extra="forbid")
    family: ClassVar[str]
    presets: ClassVar[dict[str, dict[str, Any]]]
    """``{preset name: architecture fields}``, in size order; the field names are those of the
    params model and of the family's transformers config."""

    preset: str = Field("tiny", description="named starting shape; see `codex models list`")
    dtype: Dtype = Field(
        "fp32", description="dtype of the weights as built: fp32, bf16 (cpu or a bf16 GPU) or fp16 (CUDA only)"
    )
    device: Device = Field(
        "cpu", description="where the weights live: auto (cuda, else mps, else cpu), cpu, cuda, cuda:N or mps"
    )
    lora: LoRAParams | None = Field(None, description="LoRA adapters to train instead of the full model")
    _explicit: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_explicit(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Record which fields the user set (not None), before the preset fills the rest:
        only those win over the tokenizer's vocabulary size and special ids."""
        model = handler(data)
        if isinstance(data, dict):
            model._explicit = frozenset(k for k, v in data.items() if v is not None)
        elif isinstance(data, PresetParams):
            model._explicit = data._explicit
        return model

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        name = data.get("preset", "tiny")
        if not isinstance(name, str) or name not in cls.presets:
            return data  # the preset field's validator reports it
        return {**data, **{k: v for k, v in cls.presets[name].items() if data.get(k) is None}}

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        check_preset(cls.family, cls.presets, value)
        return value

    @field_validator("pad_token_id", "bos_token_id", "eos_token_id", check_fields=False)
    @classmethod
    def _inside_vocabulary(cls, value: int | None, info: ValidationInfo) -> int | None:
        vocab_size = info.data.get("vocab_size")
        if value is not None and vocab_size is not None and value >= vocab_size:
            raise ValueError(f"must be below vocab_size ({vocab_size})")
        return value

    def architecture(self) -> dict[str, Any]:
        """The resolved architecture fields (the preset's keys), e.g. for ``param_count``."""
        return {name: getattr(self, name) for name in self.presets[self.preset]}

    def for_tokenizer(self, tokenizer: Any) -> Self:
        """A copy whose vocab_size and pad/bos/eos ids come from ``tokenizer`` (a codex
        ``Tokenizer``: ``vocab_size`` and ``special_tokens`` by role), except where the
        user set them. An explicit vocab_size below the tokenizer's is an error (ids past
        the embedding table would crash the first batch); a larger one is kept (padding the
        table to a round size is common)."""
        if tokenizer is None:
            return self
        update: dict[str, Any] = {}
        vocab = int(tokenizer.vocab_size)
        if "vocab_size" not in self._explicit:
            update["vocab_size"] = vocab
        elif self.vocab_size is not None and self.vocab_size < vocab:
            raise ValueError(
                f"vocab_size {self.vocab_size} is below the tokenizer's {vocab}; "
                "remove vocab_size from the model params to take the tokenizer's"
            )
        roles = dict(getattr(tokenizer, "special_tokens", {}) or {})
        for role in ("pad", "bos", "eos"):
            if f"{role}_token_id" not in self._explicit and role in roles:
                update[f"{role}_token_id"] = int(roles[role])
        copy = self.model_copy(update=update)
        copy._explicit = self._explicit
        return copy


def check_preset(family: str, presets: dict[str, Any], name: str) -> None:
    """A ``ValueError`` with a "did you mean" and the list of presets when ``name`` is not
    one of ``presets``."""
    if name in presets:
        return
    from codex_core.errors import did_you_mean

    guess = did_you_mean(name, presets)
    raise ValueError(
        f"unknown {family} preset {name!r}" + (f"; did you mean {guess!r}?" if guess else "")
        + f" (presets: {', '.join(presets)})"
    )
