"""The ``hf-local`` model: a causal LM in Hugging Face format from a local directory.

Any directory that ``AutoModelForCausalLM.from_pretrained`` loads works (a codex model
directory or checkpoint, or one written by ``save_pretrained``), as long as its weights are
safetensors: pickled weights (``pytorch_model.bin``) and model code of its own (``auto_map``)
are refused with one line, since nothing from the directory is unpickled or run (see
docs/security.md). It is loaded with ``local_files_only``: a path that does not exist is an
error, never a download from the hub. Its tokenizer is the directory's own ``tokenizer.json``,
named in the run config as ``tokenizer: {name: tokenizer-json, params: {path: <same dir>}}``
(:func:`tokenizer_ref`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from codex_core.config import ConfigPath
from codex_core.errors import ComponentError
from codex_models.models.params import Device, Dtype, LoRAParams

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.context import BuildContext

__all__ = ["HFLocalParams", "build_hf_local", "tokenizer_ref"]


class HFLocalParams(BaseModel):
    """Params of ``hf-local``: a causal LM in Hugging Face format from a local directory
    (``config.json`` + weights + ``tokenizer.json``), loaded with ``local_files_only``."""

    model_config = ConfigDict(extra="forbid")

    path: ConfigPath = Field(
        description="the model directory (never a hub name: nothing is downloaded); relative to the config file"
    )
    dtype: Dtype = Field("fp32", description="dtype of the weights as loaded")
    device: Device = Field("cpu", description="auto, cpu, cuda, cuda:N or mps")
    lora: LoRAParams | None = Field(None, description="LoRA adapters to train instead of the full model")


def build_hf_local(params: HFLocalParams, context: BuildContext | None = None) -> Any:
    """The model in ``params.path``, in ``params.dtype`` on ``params.device``, with LoRA
    adapters applied when ``params.lora`` is set (:func:`codex_models.models.lora.apply_lora`; the
    default targets come from the model's ``model_type``).

    A directory with an ``adapter/`` (a codex checkpoint of a LoRA run) is loaded with that
    adapter attached and trainable, so fine-tuning continues it; setting ``params.lora`` as
    well is an error. When the run's tokenizer is known (``context.tokenizer``), its
    vocabulary must fit the model's embedding rows.
    """
    from codex_models.models.model_dir import ADAPTER_DIR, load_model

    path = Path(params.path).expanduser()
    if not path.exists():
        raise ComponentError(
            f"hf-local: model directory {params.path!r} does not exist (hf-local loads local directories only; "
            "nothing is downloaded from the hub)",
            hint="give the path of a directory holding config.json and model.safetensors",
        )
    has_adapter = (path / ADAPTER_DIR / "adapter_config.json").is_file()
    if has_adapter and params.lora is not None:
        raise ComponentError(
            f"hf-local: {path} already has a LoRA adapter ({ADAPTER_DIR}/), and lora params are set too",
            hint="remove model.params.lora to continue training that adapter, or export the model merged first",
        )
    model = load_model(path, dtype=params.dtype, device=params.device, adapter_trainable=True,
                       what="hf-local model directory")
    _check_vocabulary(model, getattr(context, "tokenizer", None), path)
    if params.lora is not None:
        from codex_models.models.lora import apply_lora

        model = apply_lora(model, params.lora)
    return model


def tokenizer_ref(path: str | Path) -> dict[str, Any]:
    """The tokenizer reference of a model directory: ``{"name": "tokenizer-json",
    "params": {"path": path}}``, as a run config's ``tokenizer`` section spells it."""
    return {"name": "tokenizer-json", "params": {"path": str(path)}}


def _check_vocabulary(model: Any, tokenizer: Any, path: Path) -> None:
    if tokenizer is None:
        return
    rows = int(model.get_input_embeddings().num_embeddings)
    if tokenizer.vocab_size > rows:
        raise ComponentError(
            f"hf-local: the tokenizer has {tokenizer.vocab_size} tokens but the model in {path} embeds only "
            f"{rows}; ids {rows}.. would index past its embeddings",
            hint=f"use the directory's own tokenizer: tokenizer: {{name: tokenizer-json, params: {{path: {path}}}}}",
        )
