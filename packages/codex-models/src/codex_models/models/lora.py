"""LoRA adapters through ``peft``: apply them to a built model, count what trains, save
them in PEFT format and merge them back into a plain model.

A LoRA target is a module name matched the way ``peft`` matches it: the whole dotted name
(``transformer.h.0.attn.c_attn``) or a dotted suffix of it (``c_attn``, ``attn.c_attn``).
Every target is checked against the model before ``peft`` runs, so a name that matches
nothing is an error listing the names that would work, never a silent no-op.

torch and peft are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core.errors import CodexError, ComponentError

if TYPE_CHECKING:  # pragma: no cover
    from peft import PeftModel

    from codex_models.models.params import LoRAParams

__all__ = [
    "MODEL_TYPE_TARGETS",
    "apply_lora",
    "default_targets",
    "is_lora",
    "lora_counts",
    "lora_summary",
    "merge_lora",
    "save_adapter",
    "with_lora",
]

logger = logging.getLogger("codex.models")

MODEL_TYPE_TARGETS: dict[str, list[str]] = {
    "gpt2": ["c_attn"],
    "gpt_bigcode": ["c_attn"],
    "llama": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"],
    "mixtral": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
    "qwen3": ["q_proj", "v_proj"],
    "gemma": ["q_proj", "v_proj"],
    "gemma2": ["q_proj", "v_proj"],
    "phi3": ["qkv_proj"],
    "opt": ["q_proj", "v_proj"],
    "gpt_neo": ["q_proj", "v_proj"],
    "gptj": ["q_proj", "v_proj"],
    "gpt_neox": ["query_key_value"],
    "falcon": ["query_key_value"],
    "bloom": ["query_key_value"],
}
"""Default ``target_modules`` by Hugging Face ``config.model_type``, for a model that is not
of one of codex's own families (e.g. one loaded by ``hf-local``); each of those has its
``LORA_TARGETS`` in its own file."""

_TARGET_HINT = "set model.params.lora.target_modules to some of these names"


def default_targets(model: Any, family: str | None = None) -> list[str]:
    """The default LoRA targets of ``model``: the ``LORA_TARGETS`` of the codex family
    ``family`` when given (:data:`codex_models.models.presets.DEFAULT_TARGETS`), else
    :data:`MODEL_TYPE_TARGETS` of ``model.config.model_type``. A model with no default is a :class:`ComponentError` asking for ``target_modules`` and listing the
    model's module names that LoRA can adapt."""
    from codex_models.models.presets import DEFAULT_TARGETS

    if family is not None and family in DEFAULT_TARGETS:
        return list(DEFAULT_TARGETS[family])
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type in MODEL_TYPE_TARGETS:
        return list(MODEL_TYPE_TARGETS[model_type])
    what = family or model_type or type(model).__name__
    raise ComponentError(
        f"no default LoRA target modules for {what!r}; the model's linear layers are: "
        f"{', '.join(_adaptable_names(model)) or '(none)'}",
        hint=_TARGET_HINT,
    )


def apply_lora(model: Any, lora: LoRAParams, family: str | None = None) -> PeftModel:
    """Wrap ``model`` in a ``peft`` LoRA model (task type ``CAUSAL_LM``) as ``lora`` says:
    rank ``r``, ``alpha`` (the update is scaled by alpha / r), ``dropout`` on the adapters'
    input, ``bias`` (which biases train too) and ``target_modules`` (None: the default of
    ``family``, see :func:`default_targets`). The base weights are frozen; only the adapters
    (and the chosen biases) train. Logs :func:`lora_summary` to the ``codex.models`` logger.

    A target that matches no module, or only modules LoRA cannot adapt (a LayerNorm, a
    whole block), is a :class:`ComponentError` naming it and listing the model's module
    names that can be targeted. GPT-2's ``Conv1D`` layers store the weight transposed;
    ``fan_in_fan_out`` is set for them.
    """
    if is_lora(model):
        raise ComponentError("the model already has LoRA adapters", hint="apply LoRA once, to the base model")
    targets = list(lora.target_modules) if lora.target_modules is not None else default_targets(model, family)
    if not targets:
        raise ComponentError("lora.target_modules is empty", hint=_TARGET_HINT + ", or leave it out for the default")
    matched = _check_targets(model, targets)

    from peft import LoraConfig, TaskType, get_peft_model
    from transformers.pytorch_utils import Conv1D

    config = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        bias=lora.bias,
        fan_in_fan_out=any(isinstance(module, Conv1D) for module in matched),
    )
    with warnings.catch_warnings():  # peft asks transformers a deprecated question; nothing for the user to do
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        peft_model = get_peft_model(model, config)
    logger.info(lora_summary(peft_model))
    return peft_model


def with_lora(model: Any, lora: LoRAParams | None, family: str | None = None) -> Any:
    """``model`` with LoRA applied when ``lora`` is set (see :func:`apply_lora`), else
    ``model`` unchanged: what a builder returns for its ``lora`` param."""
    return model if lora is None else apply_lora(model, lora, family)


def is_lora(model: Any) -> bool:
    """True when ``model`` is a ``peft`` model (adapters applied, not merged)."""
    if "peft" not in sys.modules:  # nothing imported peft, so nothing made a peft model
        return False
    from peft import PeftModel

    return isinstance(model, PeftModel)


def lora_counts(model: Any) -> tuple[int, int]:
    """``(trainable, total)`` parameters of ``model`` (tied weights counted once)."""
    from codex_models.models.placement import describe

    counts = describe(model)
    return counts["trainable"], counts["params"]


def lora_summary(model: Any) -> str:
    """One line for logs and reports, e.g. ``LoRA r=8 alpha=16 on c_attn: 12,288 trainable
    of 1,234,567 parameters (1.00%)``."""
    config = _lora_config(model)
    trainable, total = lora_counts(model)
    targets = config.target_modules
    names = ", ".join(sorted(targets)) if not isinstance(targets, str) else targets
    share = 100.0 * trainable / total if total else 0.0
    return (
        f"LoRA r={config.r} alpha={config.lora_alpha:g} on {names}: "
        f"{trainable:,} trainable of {total:,} parameters ({share:.2f}%)"
    )


def save_adapter(model: Any, directory: str | Path) -> Path:
    """Write ``model``'s adapters to ``directory`` in PEFT format (``adapter_config.json``
    and ``adapter_model.safetensors``, through ``save_pretrained``); returns the directory.

    ``directory`` must not exist or be empty; it is written atomically
    (:func:`codex_core.fsutil.atomic_dir`), so a reader sees all of it or nothing. Load it
    onto a base model built the same way with ``peft.PeftModel.from_pretrained(base, directory)``.
    """
    _lora_config(model)  # a CodexError when the model has no adapters
    from codex_core.fsutil import atomic_dir

    directory = Path(directory)
    try:
        with atomic_dir(directory) as staging:
            model.save_pretrained(staging, safe_serialization=True)
    except FileExistsError:
        raise CodexError(f"{directory} already exists and is not empty",
                         hint="save the adapter to a new directory") from None
    return directory


def merge_lora(model: Any) -> Any:
    """The plain ``transformers`` model with the adapters merged into its weights
    (``W + alpha / r * B @ A``) and the LoRA layers removed (``merge_and_unload``).

    The base model's modules are merged in place: ``model`` is not usable as a LoRA model
    afterwards.
    """
    _lora_config(model)
    return model.merge_and_unload()


def _lora_config(model: Any) -> Any:
    if not is_lora(model):
        raise CodexError(
            f"{type(model).__name__} has no LoRA adapters", hint="build the model with lora params set"
        )
    return model.peft_config[model.active_adapter]


def _check_targets(model: Any, targets: list[str]) -> list[Any]:
    """The modules ``targets`` match (by peft's rule); a :class:`ComponentError` for a
    target that matches nothing LoRA can adapt."""
    named = list(model.named_modules())
    adaptable = _adaptable_types()
    matched: list[Any] = []
    for target in targets:
        hits = [module for name, module in named if name == target or name.endswith("." + target)]
        usable = [module for module in hits if isinstance(module, adaptable)]
        if usable:
            matched.extend(usable)
            continue
        names = ", ".join(_adaptable_names(model)) or "(none)"
        if hits:
            kinds = ", ".join(sorted({type(module).__name__ for module in hits}))
            problem = f"LoRA target {target!r} matches only modules LoRA cannot adapt ({kinds})"
        else:
            problem = f"LoRA target {target!r} matches no module of {type(model).__name__}"
        raise ComponentError(f"{problem}; the model's linear layers are: {names}", hint=_TARGET_HINT)
    return matched


def _adaptable_types() -> tuple[type, ...]:
    """The module types peft's LoRA can wrap."""
    import torch
    from transformers.pytorch_utils import Conv1D

    nn = torch.nn
    return (nn.Linear, nn.Embedding, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MultiheadAttention, Conv1D)


def _adaptable_names(model: Any) -> list[str]:
    """The distinct last names of ``model``'s Linear and Conv1D layers, in model order: the
    usual LoRA targets (``c_attn``, ``c_proj``, ... or ``q_proj``, ``k_proj``, ...)."""
    import torch
    from transformers.pytorch_utils import Conv1D

    names: dict[str, None] = {}
    for name, module in model.named_modules():
        if name and isinstance(module, torch.nn.Linear | Conv1D):
            names[name.rsplit(".", 1)[-1]] = None
    return list(names)
