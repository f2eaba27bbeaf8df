"""Checkpoints: atomic directories with a completion marker, verified on load, pruned by
recency and by the monitored metric.

A checkpoint is ``<run>/checkpoints/step-00000100/`` holding the model directory format
(``model.safetensors``, ``config.json``, tokenizer files, ...; see docs/models.md) plus the
trainer's state:

* ``trainer_state.pt``: optimizer and grad-scaler state and the torch (and CUDA) RNG
  states: tensors and plain containers only, loaded with ``torch.load(weights_only=True)``;
* ``rng.json``: the Python and NumPy RNG states, as JSON;
* ``checkpoint.json``: written last, it is the completion marker: step, tokens, data
  position, metrics, config hash, world size and global batch, and the sha256 of every
  other file, checked on load.

Everything is written into a hidden temporary directory next to the final one, fsynced,
and renamed into place (:func:`codex_core.fsutil.atomic_dir`); a process killed while
writing leaves a temporary directory that is ignored (and removed by the next save), never
a half checkpoint under the final name. A write that fails because of where the run is (a
full disk, the file size limit, a read-only filesystem) is a :class:`codex_core.errors.WriteError`
naming the checkpoint's file; the checkpoints written before are left as they were.
Nothing is unpickled: weights are safetensors, the rest JSON or ``weights_only`` tensors.
Reading the markers (listing, verifying, the best by a metric) is codex-core's
(:mod:`codex_core.checkpoints`), re-exported here.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from codex_core.checkpoints import (
    MARKER,
    PREFIX,
    CheckpointError,
    CheckpointInfo,
    best_checkpoints,
    latest_checkpoint,
    list_checkpoints,
    seal_marker,
)
from codex_core.checkpoints import read_checkpoint as read_info
from codex_core.errors import WriteError
from codex_core.faults import failpoint
from codex_core.fsutil import atomic_dir, remove_temporaries, sha256_file, writing

__all__ = ["MARKER", "PREFIX", "RNG_STATE", "TMP_PREFIX", "TRAINER_STATE", "TRAINER_STATE_KEYS", "CheckpointError",
           "CheckpointInfo", "best_checkpoints", "capture_rng", "checkpoint_name", "latest_checkpoint",
           "list_checkpoints", "load_rng_json", "load_trainer_state", "match_model_keys", "prune", "read_info",
           "read_model_weights", "record_in_manifest", "restore_rng", "save_checkpoint", "sha256_file"]

TRAINER_STATE = "trainer_state.pt"
TRAINER_STATE_KEYS = ("optimizer", "scaler", "rng")
"""What ``trainer_state.pt`` holds: the optimizer's and grad scaler's state dicts, and the
torch RNG states of each rank."""
RNG_STATE = "rng.json"
TMP_PREFIX = "."
"""What the names of temporaries start with: a writer killed midway leaves a hidden
``.step-NNNNNNNN.tmp-...`` directory (:func:`codex_core.fsutil.atomic_dir`), never a
``step-`` one."""


def checkpoint_name(step: int) -> str:
    return f"{PREFIX}{step:08d}"


# -- RNG states --------------------------------------------------------------------------
def capture_rng() -> tuple[dict[str, Any], dict[str, Any]]:
    """``(json_state, tensor_state)``: Python and NumPy as JSON; torch (and CUDA) as tensors."""
    import numpy as np
    import torch

    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    json_state = {
        "python": {"version": version, "state": list(internal), "gauss_next": gauss},
        "numpy": {"kind": kind, "keys": [int(k) for k in keys], "pos": int(pos), "has_gauss": int(has_gauss),
                  "cached_gaussian": float(cached)},
    }
    tensors: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["cuda"] = torch.cuda.get_rng_state_all()
    return json_state, tensors


def restore_rng(json_state: Mapping[str, Any], tensors: Mapping[str, Any]) -> None:
    import numpy as np
    import torch

    py = json_state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]))
    npy = json_state["numpy"]
    np.random.set_state((npy["kind"], np.array(npy["keys"], dtype=np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached_gaussian"]))
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(tensors["cuda"])


# -- writing ------------------------------------------------------------------------------
def save_checkpoint(
    checkpoints_dir: Path,
    step: int,
    *,
    write_model: Callable[[Path], None],
    trainer_state: Mapping[str, Any],
    rng_json: Mapping[str, Any],
    meta: Mapping[str, Any],
) -> CheckpointInfo:
    """Write a complete checkpoint for ``step`` and return it.

    ``write_model(directory)`` writes the model directory files; ``trainer_state`` (tensors
    and containers) goes to ``trainer_state.pt``; ``meta`` (JSON) into ``checkpoint.json``
    together with the step, the time and the files' sha256. An existing checkpoint of the
    same step is replaced only once the new one is complete. A :class:`WriteError` (no space
    left, ...) names the file that could not be written and leaves no trace of this one.
    """
    with writing(checkpoints_dir):
        checkpoints_dir.mkdir(parents=True, exist_ok=True)
    remove_temporaries(checkpoints_dir)
    try:
        return _save(checkpoints_dir, int(step), write_model, trainer_state, rng_json, meta)
    except WriteError as exc:
        raise WriteError(f"checkpoint of step {step}: {exc.message}", path=exc.path, errno=exc.errno,
                         hint=f"{exc.hint}; the checkpoints written before are intact (--resume auto "
                              "continues from the last)") from exc


def _save(checkpoints_dir: Path, step: int, write_model: Callable[[Path], None], trainer_state: Mapping[str, Any],
          rng_json: Mapping[str, Any], meta: Mapping[str, Any]) -> CheckpointInfo:
    import torch

    final = checkpoints_dir / checkpoint_name(step)
    with atomic_dir(final, replace=True) as tmp:
        write_model(tmp)
        for _ in _files(tmp):  # the model directory's files, in the order they were written
            failpoint("checkpoint-file")
        # Errors name the file (atomic_dir gives it its final name); torch.save writes through a
        # Python file so that its failure carries the OSError that says why.
        with writing(tmp / TRAINER_STATE), open(tmp / TRAINER_STATE, "wb") as handle:
            torch.save(dict(trainer_state), handle)
        failpoint("checkpoint-file")
        with writing(tmp / RNG_STATE):
            (tmp / RNG_STATE).write_text(json.dumps(rng_json))
        failpoint("checkpoint-file")
        files = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(_files(tmp))}
        marker = seal_marker({"format": 1, **dict(meta), "step": step, "time": time.time(), "files": files})
        with writing(tmp / MARKER):
            (tmp / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True))  # the marker last
        failpoint("checkpoint-marker")
    failpoint("checkpoint-commit")
    return CheckpointInfo(final, marker)


def _files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: (p.stat().st_mtime_ns, p))


# -- reading ------------------------------------------------------------------------------
def load_trainer_state(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """The optimizer, grad-scaler and torch RNG states in the checkpoint ``path``'s ``trainer_state.pt``.

    The file is read by torch's ``weights_only`` unpickler. It builds only tensors and plain
    containers, and never imports or calls anything else. A pickle that names any other
    callable (one crafted to run code when it is loaded) is refused before any of it runs.
    That refusal, a file that is not a torch file at all (empty, random bytes, a zip of
    something else) and one that holds something other than a trainer state each give one
    :class:`CheckpointError` line naming the file. The caller has already checked the
    marker's checksums, so a file that gets here intact was written like this on purpose.
    """
    import pickle

    import torch

    file = path / TRAINER_STATE
    try:
        state = torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = _UNSUPPORTED_GLOBAL.search(str(exc))
        if refused is None:
            raise CheckpointError(f"checkpoint {file} is not a readable torch file ({_reason(exc)})",
                                  hint=_CHANGED) from None
        raise CheckpointError(
            f"checkpoint {file} holds objects that are not plain tensors and containers ({refused.group(1)}); "
            "codex does not unpickle them, since unpickling can run any code", hint=_CHANGED) from None
    except Exception as exc:  # a damaged file trips torch's reader anywhere: EOFError, RuntimeError, IndexError...
        raise CheckpointError(f"checkpoint {file} is not a readable torch file ({_reason(exc)})", hint=_CHANGED) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {file} is not a trainer state: it holds a {type(state).__name__}, not a "
                              f"dict of {', '.join(TRAINER_STATE_KEYS)}", hint=_CHANGED)
    missing = [key for key in TRAINER_STATE_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"checkpoint {file} is not a trainer state: it has no {', '.join(missing)}", hint=_CHANGED)
    return dict(state)


_CHANGED = "it was not written by codex, or was changed after: resume from another checkpoint, or train from the start"
"""The hint of a checkpoint file that passed its checksum but is not what codex writes."""
_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: (GLOBAL \S+)")
"""How torch's ``weights_only`` unpickler names the callable it refused."""
_UNPICKLER_ERROR = re.compile(r"WeightsUnpickler error:\s*(\S[^\n]*)")


def _reason(exc: BaseException) -> str:
    """What went wrong in one line: the ``weights_only`` unpickler's own words (after torch's
    paragraph about ``weights_only``), else the first line of the message, with its type."""
    found = _UNPICKLER_ERROR.search(str(exc))
    lines = [found.group(1)] if found else str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0].strip()}" if lines else type(exc).__name__


def load_rng_json(path: Path) -> dict[str, Any]:
    """The Python and NumPy RNG states of each rank (``rng.json``: ``{"ranks": [...]}``); a file
    that is not that JSON is one :class:`CheckpointError` line naming it."""
    file = path / RNG_STATE
    try:
        state = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {file} is not readable JSON ({_reason(exc)})", hint=_CHANGED) from None
    if not isinstance(state, dict) or not isinstance(state.get("ranks"), list):
        raise CheckpointError(f"checkpoint {file} is not an RNG state: it has no list of ranks", hint=_CHANGED)
    return dict(state)


# -- retention ----------------------------------------------------------------------------
def prune(checkpoints_dir: Path, *, keep_last: int, keep_best: int, monitor: str, mode: str) -> list[Path]:
    """Delete complete checkpoints that are neither among the ``keep_last`` newest nor the
    ``keep_best`` best by ``monitor`` (``min``/``max``); returns what was deleted. Called
    only after a new checkpoint is complete, so a crash while pruning loses nothing needed."""
    infos = list_checkpoints(checkpoints_dir)
    keep = {info.path for info in infos[-keep_last:]} if keep_last else set()
    keep |= {info.path for info in best_checkpoints(infos, monitor, mode)[:keep_best]}
    removed = []
    for info in infos:
        if info.path not in keep:
            shutil.rmtree(info.path)
            removed.append(info.path)
    return removed


def read_model_weights(path: Path) -> dict[str, Any]:
    """The weights of the checkpoint's model directory (the base weights, plus the LoRA
    adapter from ``adapter/`` under peft's names)."""
    from codex_models.models.model_dir import ADAPTER_DIR

    weights = _safetensors(path / "model.safetensors")
    adapter = path / ADAPTER_DIR / "adapter_model.safetensors"
    if adapter.is_file():
        weights = {**weights, **{f"__adapter__.{k}": v for k, v in _safetensors(adapter).items()}}
    return weights


def _safetensors(file: Path) -> dict[str, Any]:
    """The tensors of a checkpoint's safetensors ``file``; one :class:`CheckpointError` line
    naming it when it is not a safetensors file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return dict(load_file(str(file)))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"checkpoint {file} is not a readable safetensors file ({_reason(exc)})",
                              hint=_CHANGED) from None


def match_model_keys(model: Any, weights: dict[str, Any]) -> dict[str, Any]:
    """``weights`` under the names of ``model.state_dict()``: tied weights saved once are
    filled in, a LoRA model's base and adapter tensors are mapped back to peft's names."""
    target = model.state_dict()
    adapter = {k.removeprefix("__adapter__."): v for k, v in weights.items() if k.startswith("__adapter__.")}
    base = {k: v for k, v in weights.items() if not k.startswith("__adapter__.")}
    out: dict[str, Any] = {}
    for key in target:
        candidates = [key, key.replace(".base_layer.", "."), key.removeprefix("base_model.model.")]
        candidates.append(key.removeprefix("base_model.model.").replace(".base_layer.", "."))
        value = next((base[c] for c in candidates if c in base), None)
        if value is None and "lora_" in key:
            stripped = key.replace(".default.", ".")
            value = adapter.get(stripped)
        if value is None:
            value = _tied(model, key, base)
        if value is None:
            raise CheckpointError(f"checkpoint weights have no tensor for {key}")
        out[key] = value
    return out


def _tied(model: Any, key: str, base: dict[str, Any]) -> Any:
    """The tensor a tied parameter shares (GPT-2's lm_head.weight is the token embedding)."""
    if key.endswith("lm_head.weight"):
        for name in ("transformer.wte.weight", "model.embed_tokens.weight"):
            for candidate in (name, f"base_model.model.{name}"):
                if candidate in base:
                    return base[candidate]
    return None


def record_in_manifest(run: Any, monitor: str, mode: str) -> None:
    """Write the run's complete checkpoints, the last and the best (by ``monitor``) into its
    manifest (``run``: a :class:`codex_core.runs.RunDir`)."""
    infos = run.checkpoints()
    best = best_checkpoints(infos, monitor, mode)
    run.write_manifest({
        "checkpoints": [info.path.name for info in infos],
        "last_checkpoint": infos[-1].path.name if infos else None,
        "best_checkpoint": best[0].path.name if best else None,
    })
