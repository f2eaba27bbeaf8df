"""Nothing untrusted is unpickled or run. A pickle crafted to run code when it is loaded (its
``__reduce__`` opens a sentinel file for writing) is planted where codex reads files: a
checkpoint's ``trainer_state.pt``, a model directory's ``pytorch_model.bin``, a LoRA adapter's
``adapter_model.bin``. Where the directory is a checkpoint, its ``checkpoint.json`` lists the new
file's sha256 and is sealed again, so the plant looks intact. Every command that reads the file
refuses with one line naming it and exit status 2, and the sentinel is never created. So are a
model directory whose ``config.json`` names code of its own (``auto_map``), and damaged trainer
states (empty, random bytes, a zip of garbage, the wrong contents).

The commands run in this process through ``codex_core.cli.main`` (``codex_cli``); one real
``codex train --resume auto`` subprocess proves the entry point.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from codex_core.checkpoints import MARKER, seal_marker
from codex_core.fsutil import sha256_file

torch = pytest.importorskip("torch")

CLI = Callable[..., tuple[int, str, str]]


class RunsCode:
    """Unpickled, this opens (creates) ``sentinel`` for writing: a stand-in for any code."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = str(sentinel)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.sentinel, "w"))


def plant(folder: Path, name: str, data: bytes, *, remove: tuple[str, ...] = ()) -> Path:
    """Write ``data`` as ``folder/name`` (and delete ``remove``); in a checkpoint, update its
    marker's ``files`` to match and seal it again, so the checkpoint still verifies."""
    (folder / name).write_bytes(data)
    for other in remove:
        (folder / other).unlink()
    marker = folder / MARKER
    if marker.is_file():
        meta = json.loads(marker.read_text(encoding="utf-8"))
        files = {k: v for k, v in meta["files"].items() if k not in remove}
        meta["files"] = {**files, name: sha256_file(folder / name)}
        marker.write_text(json.dumps(seal_marker(meta), indent=1, sort_keys=True), encoding="utf-8")
    return folder / name


def torch_bytes(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def malicious_trainer_state(sentinel: Path) -> bytes:
    """A trainer state shaped like codex's, whose optimizer state runs code when unpickled."""
    return torch_bytes({"optimizer": {"state": {}, "param_groups": [RunsCode(sentinel)]}, "scaler": {},
                        "rng": [{"torch": torch.get_rng_state()}]})


def malicious_weights(sentinel: Path) -> bytes:
    """A ``pytorch_model.bin``-style state dict with one entry that runs code when unpickled."""
    return torch_bytes({"transformer.wte.weight": torch.zeros(2, 2), "transformer.h.0.attn.bias": RunsCode(sentinel)})


def refused(code: int, err: str, *names: object) -> bool:
    """Exit 2, and standard error is one ``error:`` line naming every one of ``names`` (beside
    codex's own ``codex: LEVEL:`` log lines: no traceback, nothing else)."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("codex: ")]
    return code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and all(str(n) in lines[0] for n in names)


@pytest.fixture
def run_copy(eval_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shared trained run (checkpoints of steps 15 and 30) under this test's
    runs root, with the shared CODEX_HOME (its tokenizer and token caches)."""
    copy = tmp_path / "runs" / eval_run.name
    shutil.copytree(eval_run, copy, ignore=shutil.ignore_patterns(".lock"))
    monkeypatch.setenv("CODEX_RUNS_DIR", str(copy.parent))
    monkeypatch.setenv("CODEX_HOME", str(eval_run.parent.parent / "home"))
    return copy


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[Path]:
    """Where the planted code would leave its mark; each test asserts it never appears."""
    path = tmp_path / "SENTINEL"
    yield path
    assert not path.exists(), "the planted pickle ran"


def test_the_planted_pickles_run_code_when_unpickled(tmp_path: Path) -> None:
    """The plants are armed: plain unpickling (``weights_only=False``) runs them."""
    for make in (malicious_trainer_state, malicious_weights):
        mark = tmp_path / f"{make.__name__}.ran"
        file = tmp_path / f"{make.__name__}.pt"
        file.write_bytes(make(mark))

        torch.load(file, weights_only=False)

        assert mark.exists()


# -- a checkpoint's trainer state ---------------------------------------------------------
@pytest.mark.parametrize("resume", ["auto", "path"])
def test_a_malicious_trainer_state_is_refused_on_resume(codex_cli: CLI, run_copy: Path, sentinel: Path,
                                                        resume: str) -> None:
    checkpoint = run_copy / "checkpoints" / "step-00000030"
    state = plant(checkpoint, "trainer_state.pt", malicious_trainer_state(sentinel))
    how = ["--run-dir", str(run_copy), "--resume", "auto"] if resume == "auto" else ["--resume", str(checkpoint)]

    code, _, err = codex_cli("train", "-c", str(run_copy / "config.yaml"), *how)

    assert refused(code, err, state, "not plain tensors and containers", "GLOBAL"), err


FAKES = ["empty", "random bytes", "a zip of garbage", "a list"]


def fake(kind: str, name: str) -> bytes:
    """A file that is not what codex writes as ``name``: empty, random bytes, a zip whose
    ``data.pkl`` is garbage, or a list (a real torch file or JSON) where a dict belongs."""
    if kind == "random bytes":
        return bytes(range(256)) * 16
    if kind == "a zip of garbage":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("archive/data.pkl", bytes(range(200, 256)) * 4)
            archive.writestr("archive/version", "3\n")
        return buffer.getvalue()
    if kind == "a list":
        return torch_bytes([1, 2, 3]) if name.endswith(".pt") else b"[1, 2, 3]"
    return b""


@pytest.mark.parametrize(("name", "kind"), [
    *(("trainer_state.pt", kind) for kind in FAKES),
    ("model.safetensors", "empty"), ("model.safetensors", "random bytes"),
    ("rng.json", "random bytes"), ("rng.json", "a list"),
])
def test_a_fake_checkpoint_file_is_one_line_naming_it(codex_cli: CLI, run_copy: Path, name: str, kind: str) -> None:
    """Each with the checksums updated, so it is read rather than caught as damage."""
    checkpoint = run_copy / "checkpoints" / "step-00000030"
    file = plant(checkpoint, name, fake(kind, name))

    code, _, err = codex_cli("train", "-c", str(run_copy / "config.yaml"), "--resume", str(checkpoint))

    assert refused(code, err, file), err


@pytest.mark.slow
def test_codex_train_resume_auto_refuses_a_malicious_trainer_state(run_copy: Path, sentinel: Path) -> None:
    """The real entry point: a ``codex train`` process."""
    state = plant(run_copy / "checkpoints" / "step-00000030", "trainer_state.pt", malicious_trainer_state(sentinel))

    done = subprocess.run([sys.executable, "-m", "codex_core", "train", "-c", str(run_copy / "config.yaml"),
                           "--run-dir", str(run_copy), "--resume", "auto"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})

    assert refused(done.returncode, done.stderr, state, "codex does not unpickle them"), done.stderr


# -- pickled weights in a model directory ---------------------------------------------------
MODEL_KINDS = ["hf-local directory", "codex checkpoint"]


def pickled_model_dir(kind: str, run: Path, root: Path, sentinel: Path) -> Path:
    """A model directory whose only weights are a malicious ``pytorch_model.bin``: a plain
    Hugging Face directory (config, generation config, tokenizer.json), or the run's last
    checkpoint with its ``model.safetensors`` swapped for it (the marker updated)."""
    checkpoint = run / "checkpoints" / "step-00000030"
    if kind == "codex checkpoint":
        plant(checkpoint, "pytorch_model.bin", malicious_weights(sentinel), remove=("model.safetensors",))
        return checkpoint
    folder = root / "hf-model"
    folder.mkdir()
    for name in ("config.json", "generation_config.json", "tokenizer.json"):
        shutil.copy(checkpoint / name, folder / name)
    plant(folder, "pytorch_model.bin", malicious_weights(sentinel))
    return folder


def hf_local_config(run: Path, model_dir: Path, out: Path, **params: Any) -> Path:
    """The run's config with model ``hf-local`` from ``model_dir`` and its tokenizer."""
    tree = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    tree["model"] = {"name": "hf-local", "params": {"path": str(model_dir), **params}}
    tree["tokenizer"] = {"name": "tokenizer-json", "params": {"path": str(model_dir)}}
    tree["run"]["name"] = "from-hf-local"
    out.write_text(json.dumps(tree), encoding="utf-8")
    return out


def commands(model_dir: Path, run: Path, tmp_path: Path) -> dict[str, list[str]]:
    """Every command that builds or loads a model from a directory."""
    return {
        "train": ["train", "-c", str(hf_local_config(run, model_dir, tmp_path / "hf.yaml")), "trainer.max_steps=1"],
        "generate": ["generate", "--model", str(model_dir), "def", "--max-new-tokens", "2"],
        "export": ["export", "--model", str(model_dir), "-o", str(tmp_path / "exported")],
        "eval": ["eval", "--model", str(model_dir)],
    }


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_pickled_weights_are_refused_by_every_command(codex_cli: CLI, run_copy: Path, tmp_path: Path,
                                                     sentinel: Path, kind: str) -> None:
    model_dir = pickled_model_dir(kind, run_copy, tmp_path, sentinel)

    results = {name: codex_cli(*argv) for name, argv in commands(model_dir, run_copy, tmp_path).items()}

    weights = model_dir / "pytorch_model.bin"
    assert {name: refused(code, err, weights, "not loaded") for name, (code, _, err) in results.items()} == \
        dict.fromkeys(results, True), results
    assert not (tmp_path / "exported").exists()


def test_pickled_weights_beside_safetensors_are_never_read(codex_cli: CLI, run_copy: Path, sentinel: Path) -> None:
    checkpoint = run_copy / "checkpoints" / "step-00000030"
    plant(checkpoint, "pytorch_model.bin", malicious_weights(sentinel))

    code, out, err = codex_cli("generate", "--model", str(checkpoint), "def", "--max-new-tokens", "2", "--seed", "0")

    assert code == 0 and out.startswith("def"), err


@pytest.mark.parametrize("where", ["adapter", "."])
def test_a_pickled_lora_adapter_is_refused(codex_cli: CLI, run_copy: Path, tmp_path: Path, sentinel: Path,
                                           where: str) -> None:
    """A LoRA model directory whose adapter (in ``adapter/``, as codex writes it, or beside
    ``config.json``, which transformers loads by itself) holds ``adapter_model.bin`` instead of
    safetensors: peft would read the pickle; codex refuses it."""
    from codex_models.models.lora import apply_lora
    from codex_models.models.model_dir import load_model_dir, save_model_dir
    from codex_models.models.params import LoRAParams

    model, tokenizer = load_model_dir(run_copy / "checkpoints" / "step-00000030")
    lora_dir = save_model_dir(apply_lora(model, LoRAParams(r=2)), tokenizer, tmp_path / "lora", merge=False)
    if where != "adapter":
        shutil.move(lora_dir / "adapter" / "adapter_config.json", lora_dir / where / "adapter_config.json")
        shutil.rmtree(lora_dir / "adapter")
    else:
        (lora_dir / "adapter" / "adapter_model.safetensors").unlink()
    adapter = plant(lora_dir / where, "adapter_model.bin", malicious_weights(sentinel))

    results = {name: codex_cli(*argv) for name, argv in commands(lora_dir, run_copy, tmp_path).items()}

    assert {name: refused(code, err, adapter, "not loaded") for name, (code, _, err) in results.items()} == \
        dict.fromkeys(results, True), results


def test_a_model_directory_naming_its_own_code_is_refused(codex_cli: CLI, run_copy: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``config.json`` with an ``auto_map`` to a module in the directory, of a model type
    transformers does not know: transformers would ask on standard input whether to run it
    (and run it on a "y"); codex never runs it, whatever standard input holds."""
    folder = tmp_path / "custom-code"
    shutil.copytree(run_copy / "checkpoints" / "step-00000030", folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.update(model_type="codex-custom", auto_map={"AutoConfig": "custom_model.CustomConfig",
                                                       "AutoModelForCausalLM": "custom_model.CustomModel"})
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    mark = tmp_path / "custom-code-ran"
    (folder / "custom_model.py").write_text(f"open({str(mark)!r}, 'w').close()\n", encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n" * 4))

    code, _, err = codex_cli("generate", "--model", str(folder), "def", "--max-new-tokens", "2")

    assert refused(code, err, folder, "custom code"), err
    assert not mark.exists()
