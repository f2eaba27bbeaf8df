"""Dtype and device placement of built models.

The params models validate the *form* of ``dtype`` and ``device`` without torch; this
module checks them against the machine it runs on (is there a CUDA device? can it do
bf16?) and moves a built model there. torch is imported inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from codex_core.errors import CodexError, ComponentError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from codex_core.context import BuildContext
    from codex_models.models.params import PresetParams

P = TypeVar("P", bound="PresetParams")

__all__ = ["DTYPES", "describe", "place", "resolve_device", "resolve_dtype", "with_tokenizer"]

DTYPES = ("fp32", "bf16", "fp16")
"""The dtype names a model's ``dtype`` field accepts."""

_HINT = "use device: cpu or auto"


def resolve_device(spec: str) -> torch.device:
    """The ``torch.device`` for ``spec`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``).

    ``auto`` is cuda if available, else mps if available, else cpu. A device this machine
    does not have is a :class:`CodexError` saying what it has instead.
    """
    import torch

    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError):
        raise CodexError(
            f"unknown device {spec!r}", hint="use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CodexError(
                f"device {spec!r} is not available (this machine has no CUDA devices)", hint=_HINT
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise CodexError(
                f"device {spec!r} is not available (this machine has {count} CUDA "
                f"device{'s' if count != 1 else ''}: cuda:0..cuda:{count - 1})",
                hint="use device: cuda:0 or auto",
            )
        return device
    if device.type == "mps":
        if not _mps_available():
            raise CodexError(f"device {spec!r} is not available (this machine has no MPS device)", hint=_HINT)
        return device
    raise CodexError(f"unknown device {spec!r}", hint="use auto, cpu, cuda, cuda:N or mps")


def resolve_dtype(name: str, device: torch.device | str) -> torch.dtype:
    """The ``torch.dtype`` for ``name`` (fp32, bf16, fp16) on ``device``; a dtype the device
    can't do (for training, in this project) is a :class:`CodexError`.

    fp16 needs a CUDA device; bf16 on CUDA needs ``torch.cuda.is_bf16_supported()``; bf16
    on cpu is allowed.
    """
    import torch

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if name not in dtypes:
        raise CodexError(f"unknown dtype {name!r}", hint=f"use one of {', '.join(DTYPES)}")
    device_type = torch.device(device).type
    if name == "fp16" and device_type != "cuda":
        raise CodexError(f"fp16 needs a CUDA device; use bf16 or fp32 on {device_type}")
    if name == "bf16" and device_type == "cuda" and not torch.cuda.is_bf16_supported():
        raise CodexError(
            f"bf16 is not supported by this CUDA device ({torch.cuda.get_device_name(torch.device(device))})",
            hint="use dtype: fp16 or fp32",
        )
    return dtypes[name]


def place(model: Any, dtype: str = "fp32", device: str = "cpu") -> Any:
    """Move ``model`` to ``device`` and cast its floating-point weights to ``dtype`` (both
    checked with :func:`resolve_device` / :func:`resolve_dtype` first); returns the model.

    A model built on the meta device (``with torch.device("meta"):``, for shapes only) stays
    there: only its dtype changes, so counting parameters never allocates the weights.
    """
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target)
    on_meta = any(p.is_meta for p in model.parameters())
    if on_meta:
        return model.to(dtype=torch_dtype)
    return model.to(device=target, dtype=torch_dtype)


def describe(model: Any) -> dict[str, Any]:
    """``{"params", "trainable", "bytes", "dtype", "device"}`` of ``model``'s weights as
    built: parameter counts (shared, i.e. tied, weights counted once), the bytes they take,
    and their dtype and device (comma-separated when mixed)."""
    params = list(model.parameters())  # torch's parameters() yields a tied weight once
    dtypes = sorted({_dtype_name(p.dtype) for p in params})
    devices = sorted({str(p.device) for p in params})
    return {
        "params": sum(p.numel() for p in params),
        "trainable": sum(p.numel() for p in params if p.requires_grad),
        "bytes": sum(p.numel() * p.element_size() for p in params),
        "dtype": ",".join(dtypes),
        "device": ",".join(devices),
    }


def _dtype_name(dtype: torch.dtype) -> str:
    import torch

    names = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}
    return names.get(dtype, str(dtype).removeprefix("torch."))


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def with_tokenizer(params: P, context: BuildContext | None) -> P:
    """``params`` with vocab_size and pad/bos/eos ids taken from the run's tokenizer
    (``context.tokenizer``, set by the engine), except where the user set them; unchanged
    outside a run. A vocab_size below the tokenizer's is a ComponentError."""
    tokenizer = getattr(context, "tokenizer", None)
    if tokenizer is None:
        return params
    try:
        return params.for_tokenizer(tokenizer)
    except ValueError as exc:
        raise ComponentError(f"model: {exc}") from None
