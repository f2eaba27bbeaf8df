"""The model directory: what codex exports and what its checkpoints contain.

A model directory is a Hugging Face directory that ``transformers`` loads offline
(``AutoModelForCausalLM.from_pretrained(DIR)``, ``AutoTokenizer.from_pretrained(DIR)``):

* ``model.safetensors``, ``config.json``, ``generation_config.json``: the weights (tied
  weights stored once and tied again on load), the architecture, and the bos/eos/pad ids
  for generation, taken from the tokenizer;
* ``tokenizer.json``, ``tokenizer_config.json``: the tokenizer in ``tokenizers`` format and
  what ``AutoTokenizer`` needs on top (its bos/eos/pad/unk tokens, ``model_max_length``);
* ``README.md``: a short model card (architecture, parameters, tokenizer, training summary);
* ``adapter/`` (LoRA runs only, ``merge=False``): the LoRA adapter in PEFT format on top of
  the base weights above.

An *adapter-only* directory (``adapter_only=True``) holds ``adapter_config.json`` and
``adapter_model.safetensors`` instead of the model files, plus the tokenizer and README.

torch, transformers and peft are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core.errors import CodexError
from codex_core.fsutil import atomic_dir
from codex_models.models.hf_config import context_length

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.registry import Registry

__all__ = ["ADAPTER_DIR", "MODEL_FILES", "load_model", "load_model_dir", "read_summary", "save_model_dir"]

ADAPTER_DIR = "adapter"
"""The subdirectory holding a LoRA adapter on top of the directory's base weights."""

MODEL_FILES = ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json",
               "tokenizer_config.json", "README.md")
"""The files of a (merged or plain) model directory."""

_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
_SUMMARY_KEY = "codex_summary: "
_TOKEN_ROLES = ("bos", "eos", "pad", "unk")


# -- saving ------------------------------------------------------------------------------
def save_model_dir(model: Any, tokenizer: Any, out: str | Path, *, summary: Mapping[str, Any] | None = None,
                   merge: bool = True, adapter_only: bool = False) -> Path:
    """Write ``model`` and ``tokenizer`` (a codex ``Tokenizer``) as a model directory at
    ``out``; returns ``out``.

    ``out`` must not exist, or be an empty directory: the files are written into a temporary
    directory next to it, fsynced, and the directory is renamed into place, so ``out`` is
    either complete or absent. ``summary`` (e.g. ``{"steps": 100, "tokens": ..., "train_loss":
    ...}``) goes into the model card and is read back by :func:`read_summary`.

    A LoRA (peft) model is saved as: merged into a plain model (``merge=True``, the default;
    a copy is merged, ``model`` itself keeps its adapters), the adapter alone
    (``adapter_only=True``), or the base weights plus the adapter in ``adapter/``
    (``merge=False``). ``adapter_only`` of a model without adapters is an error.

    The tokenizer must save a ``tokenizer.json`` (the ``char`` tokenizer writes an equivalent
    one with its ``save_tokenizer_json``). Any other tokenizer file is a :class:`CodexError`.
    """
    from codex_models.models.lora import is_lora, merge_lora, save_adapter

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CodexError(f"{out} already exists and is not an empty directory",
                         hint="choose another output path, or delete it first")
    lora = is_lora(model)
    if adapter_only and not lora:
        raise CodexError("adapter_only needs a model with LoRA adapters; this one has none",
                         hint="save the whole model instead")
    with atomic_dir(out) as staging:
        if adapter_only:  # first: the adapter is written as a whole into the empty folder
            save_adapter(model, staging)
            base = model.get_base_model()
        elif lora and merge:
            base = merge_lora(copy.deepcopy(model))
            _save_weights(base, staging)
        elif lora:
            base = model.get_base_model()
            _save_weights(base, staging, state_dict=_base_state_dict(base))
            save_adapter(model, staging / ADAPTER_DIR)
        else:
            base = model
            _save_weights(base, staging)
        _save_tokenizer(tokenizer, staging)
        roles = _token_roles(tokenizer, staging / "tokenizer.json")
        if not adapter_only:
            _write_generation_config(base, staging, roles)
        _write_json(staging / "tokenizer_config.json", _tokenizer_config(base, roles))
        card = _model_card(base, tokenizer, summary, adapter_only=adapter_only,
                           merged=lora and merge and not adapter_only)
        (staging / "README.md").write_text(card, encoding="utf-8")
    return out


@contextmanager
def quiet_progress() -> Iterator[None]:
    """Hide transformers' progress bars (loading and writing weight shards) while inside:
    codex shows its own progress, and a bar per checkpoint is noise."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _save_weights(model: Any, directory: Path, state_dict: dict[str, Any] | None = None) -> None:
    """``model.safetensors``, ``config.json`` and ``generation_config.json`` through
    ``save_pretrained`` (which stores tied weights once and records the tie in the config)."""
    with quiet_progress():
        model.save_pretrained(directory, safe_serialization=True, state_dict=state_dict)


def _base_state_dict(base: Any) -> dict[str, Any]:
    """The base weights of a model with LoRA layers injected: the ``lora_`` tensors dropped,
    each wrapped layer's ``base_layer`` under its original name."""
    return {key.replace(".base_layer.", "."): value for key, value in base.state_dict().items()
            if "lora_" not in key}


def _save_tokenizer(tokenizer: Any, directory: Path) -> None:
    """The tokenizer's ``tokenizer.json`` in ``directory``: what ``save`` writes, or for a
    tokenizer with another file format (``char``) its own ``save_tokenizer_json``."""
    export = getattr(tokenizer, "save_tokenizer_json", None)
    written = Path(export(directory) if callable(export) else tokenizer.save(directory))
    if written.name == "tokenizer.json":
        return
    raise CodexError(
        f"the tokenizer ({type(tokenizer).__name__}) saved {written.name}, not a tokenizer.json; "
        "a model directory needs a Hugging Face tokenizer.json",
        hint="use a tokenizer that saves a tokenizer.json (bpe, wordpiece, unigram, tokenizer-json or char)",
    )


def _token_roles(tokenizer: Any, tokenizer_json: Path) -> dict[str, tuple[int, str]]:
    """``{role: (id, text)}`` of the bos/eos/pad/unk tokens the tokenizer names."""
    added = {t["id"]: t["content"] for t in _read_json(tokenizer_json).get("added_tokens") or []}
    roles: dict[str, tuple[int, str]] = {}
    for role in _TOKEN_ROLES:
        token_id = tokenizer.special_tokens.get(role)
        if token_id is None:
            continue
        text = added.get(token_id)
        if text is None:
            text = tokenizer.decode([token_id])
        roles[role] = (int(token_id), text)
    return roles


def _write_generation_config(model: Any, directory: Path, roles: Mapping[str, tuple[int, str]]) -> None:
    path = directory / "generation_config.json"
    config = _read_json(path) if path.exists() else {}
    for role in ("bos", "eos", "pad"):
        if role in roles:
            config[f"{role}_token_id"] = roles[role][0]
    config.setdefault("transformers_version", _transformers_version())
    _write_json(path, config)


def _tokenizer_config(model: Any, roles: Mapping[str, tuple[int, str]]) -> dict[str, Any]:
    """What ``AutoTokenizer`` reads next to the tokenizer.json: the class
    (``PreTrainedTokenizerFast``), the role tokens, and the model's context length."""
    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": False,
        "model_max_length": context_length(getattr(model, "config", None)),
    }
    for role, (_, text) in roles.items():
        config[f"{role}_token"] = text
    return {k: v for k, v in config.items() if v is not None}


def _model_card(base: Any, tokenizer: Any, summary: Mapping[str, Any] | None, *,
                adapter_only: bool, merged: bool) -> str:
    from codex_models.models.placement import describe

    config = base.config
    counts = describe(base)
    adapter = sum(p.numel() for name, p in base.named_parameters() if "lora_" in name)
    front = ["---", "library_name: peft" if adapter_only else "library_name: transformers",
             "pipeline_tag: text-generation", "tags:", "- codex"]
    if summary:
        front.append(_SUMMARY_KEY + json.dumps(dict(summary), sort_keys=True, default=str))
    front.append("---")
    what = "A LoRA adapter (PEFT format) for a" if adapter_only else "A"
    lines = [*front, "", f"# {config.model_type} causal language model", "",
             f"{what} {type(base).__name__} ({config.model_type}) written by codex.", "",
             "| | |", "|---|---|",
             f"| architecture | {type(base).__name__} |",
             f"| parameters | {counts['params'] - adapter:,} |"]
    if adapter:
        lines.append(f"| LoRA adapter parameters | {adapter:,} |")
    elif merged:
        lines.append("| LoRA | merged into the weights |")
    lines += [f"| context length | {context_length(getattr(base, 'config', None))} |",
              f"| tokenizer vocabulary | {tokenizer.vocab_size:,} |",
              f"| weights dtype | {counts['dtype']} |"]
    if summary:
        lines += ["", "## Training summary", "", "| | |", "|---|---|",
                  *(f"| {key} | {value} |" for key, value in summary.items())]
    lines += ["", "## Load", "", "```python"]
    if adapter_only:
        lines += ["from peft import PeftModel", "", "model = PeftModel.from_pretrained(base_model, PATH)"]
    else:
        lines += ["from transformers import AutoModelForCausalLM, AutoTokenizer", "",
                  "model = AutoModelForCausalLM.from_pretrained(PATH)",
                  "tokenizer = AutoTokenizer.from_pretrained(PATH)"]
    lines += ["```", ""]
    return "\n".join(lines)


def read_summary(path: str | Path) -> dict[str, Any] | None:
    """The training summary recorded in a model directory's README.md, or None."""
    readme = Path(path) / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return None
    head = text.split("\n---", 1)[0] if text.startswith("---\n") else ""
    for line in head.splitlines():
        if line.startswith(_SUMMARY_KEY):
            with contextlib.suppress(ValueError):
                return dict(json.loads(line[len(_SUMMARY_KEY):]))
    return None


# -- loading -----------------------------------------------------------------------------
def load_model(path: str | Path, *, dtype: str = "fp32", device: str = "cpu", adapter_trainable: bool = False,
               what: str = "model directory") -> Any:
    """The model of a Hugging Face directory, loaded offline (``local_files_only``) from
    safetensors weights, in ``dtype`` on ``device`` (:func:`codex_models.models.placement.place`);
    with the LoRA adapter of its ``adapter/`` subdirectory attached (trainable when
    ``adapter_trainable``). Errors are one-line :class:`CodexError`\\ s.

    Nothing in the directory is executed: pickled weights (``pytorch_model.bin``,
    ``adapter_model.bin``) are refused rather than unpickled, and a ``config.json`` whose
    ``auto_map`` names Python code of its own is refused (``trust_remote_code=False``) rather
    than imported, or asked about on standard input as transformers otherwise does."""
    from codex_models.models.placement import place

    path = _check_model_dir(Path(path), what)
    for adapter in (path, path / ADAPTER_DIR):  # transformers loads an adapter beside config.json itself
        if (adapter / "adapter_config.json").is_file():
            _check_adapter_weights(adapter)
    from safetensors import SafetensorError  # a truncated or garbage model.safetensors
    from transformers import AutoModelForCausalLM

    try:
        with quiet_progress():
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, use_safetensors=True,
                                                         trust_remote_code=False)
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
        raise CodexError(f"cannot load the model in {what} {path}: {_first_line(exc)}") from None
    model = place(model, dtype, device)
    if (path / ADAPTER_DIR / "adapter_config.json").is_file():
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, path / ADAPTER_DIR, is_trainable=adapter_trainable)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise CodexError(f"cannot load the LoRA adapter in {path / ADAPTER_DIR}: {_first_line(exc)}") from None
    return model


def load_model_dir(path: str | Path, *, dtype: str = "fp32", device: str = "cpu", registry: Registry | None = None,
                   adapter_trainable: bool = False) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of a model directory: the model as :func:`load_model` loads it
    (base weights plus ``adapter/`` when present), the tokenizer built through the registry's
    ``tokenizer-json`` component (from codex-tokenizers) from the directory's tokenizer.json.

    ``registry`` defaults to the installed plugins'. Not a directory, no config.json, an
    unreadable config, no safetensors weights, no tokenizer.json, or no ``tokenizer-json``
    component: each is a one-line :class:`CodexError`.
    """
    path = _check_model_dir(Path(path), "model directory")
    if not (path / "tokenizer.json").is_file():
        raise CodexError(f"model directory {path} has no tokenizer.json",
                         hint="save the tokenizer there (tokenizer.save(DIR)) or export the model with codex export")
    if registry is None:
        from codex_core.plugins import get_plugin_manager

        registry = get_plugin_manager().registry
    if ("tokenizer", "tokenizer-json") not in registry:
        raise CodexError("loading a model directory's tokenizer needs the tokenizer-json tokenizer, which is "
                         "not installed", hint="pip install codex-tokenizers")
    from codex_core.context import BuildContext

    tokenizer = registry.build("tokenizer", "tokenizer-json", {"path": str(path)},
                               context=BuildContext(registry=registry))
    model = load_model(path, dtype=dtype, device=device, adapter_trainable=adapter_trainable)
    return model, tokenizer


def _check_model_dir(path: Path, what: str) -> Path:
    if not path.exists():
        raise CodexError(f"{what} {path} does not exist")
    if not path.is_dir():
        raise CodexError(f"{what} {path} is not a directory")
    config = path / "config.json"
    if not config.is_file():
        if (path / "adapter_config.json").is_file():
            raise CodexError(f"{path} holds a LoRA adapter only (adapter_config.json, no config.json)",
                             hint="load it onto its base model with peft, or export the model merged")
        raise CodexError(f"{what} {path} has no config.json", hint="point at a Hugging Face model directory")
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CodexError(f"cannot read {config}: {_first_line(exc)}") from None
    if not any((path / name).is_file() for name in ("model.safetensors", "model.safetensors.index.json")):
        raise CodexError(f"{what} {path} has no model.safetensors"
                         + _pickled_note(path, ("pytorch_model.bin", "pytorch_model.bin.index.json")),
                         hint="save the weights with save_pretrained(DIR, safe_serialization=True)")
    return path


def _check_adapter_weights(adapter: Path) -> None:
    """peft reads a pickled ``adapter_model.bin`` when there is no ``adapter_model.safetensors``;
    codex refuses the adapter instead, with one line."""
    if not (adapter / "adapter_model.safetensors").is_file():
        raise CodexError(f"the LoRA adapter in {adapter} has no adapter_model.safetensors"
                         + _pickled_note(adapter, ("adapter_model.bin",)),
                         hint="save the adapter with save_pretrained(DIR, safe_serialization=True)")


def _pickled_note(folder: Path, names: tuple[str, ...]) -> str:
    """`` (FILE is not loaded: ...)`` for the first of ``names`` (pickled weights) in ``folder``,
    else nothing: codex unpickles no weights, as a pickle can run any code when it is loaded."""
    found = next((folder / name for name in names if (folder / name).is_file()), None)
    if found is None:
        return ""
    return f" ({found} is not loaded: codex reads safetensors weights only, since unpickling can run code)"


# -- helpers ------------------------------------------------------------------------------
def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CodexError(f"cannot read {path}: {_first_line(exc)}") from None


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _transformers_version() -> str:
    import transformers

    return str(transformers.__version__)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
