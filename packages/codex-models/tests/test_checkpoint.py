"""Checkpoint directories: atomic writes, sha256 verification, retention and RNG states."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest

from codex_models.training import checkpoint as ckpt

torch = pytest.importorskip("torch")


def write_weights(directory: Path) -> None:
    from safetensors.torch import save_file

    save_file({"w": torch.arange(6, dtype=torch.float32)}, str(directory / "model.safetensors"))


def save(root: Path, step: int, *, val_loss: float | None = None, write_model=write_weights) -> ckpt.CheckpointInfo:
    metrics = {} if val_loss is None else {"val/loss": val_loss}
    return ckpt.save_checkpoint(root, step, write_model=write_model, trainer_state={"optimizer": {"x": torch.ones(2)}},
                                rng_json={"ranks": []}, meta={"metrics": metrics})


def crash(directory: Path) -> None:
    write_weights(directory)
    raise RuntimeError("killed while writing")


@pytest.fixture
def killed(monkeypatch):
    """``killed(root, step)``: a save that dies while writing the model, as a killed process
    does: no cleanup runs (the temporary directory's removal is what a kill skips)."""
    import shutil

    def save_and_die(root: Path, step: int, **kwargs):
        with monkeypatch.context() as patch:
            patch.setattr(shutil, "rmtree", lambda *a, **k: None)
            return save(root, step, write_model=crash, **kwargs)

    return save_and_die


def test_a_checkpoint_has_the_marker_last_with_every_files_sha256(tmp_path):
    info = save(tmp_path, 3)

    marker = json.loads((info.path / ckpt.MARKER).read_text())
    assert info.path.name == "step-00000003" and marker["step"] == 3
    assert set(marker["files"]) == {"model.safetensors", ckpt.TRAINER_STATE, ckpt.RNG_STATE}
    assert marker["files"]["model.safetensors"] == ckpt.sha256_file(info.path / "model.safetensors")


def test_a_writer_that_dies_midway_leaves_no_final_directory_and_the_previous_checkpoint_usable(tmp_path, killed):
    save(tmp_path, 1)

    with pytest.raises(RuntimeError, match="killed"):
        killed(tmp_path, 2)

    assert not (tmp_path / "step-00000002").exists()
    assert ckpt.latest_checkpoint(tmp_path).step == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(ckpt.TMP_PREFIX)], "the temporary stays behind"


def test_the_next_save_removes_temporaries_a_killed_writer_left(tmp_path, killed):
    with pytest.raises(RuntimeError):
        killed(tmp_path, 1)

    save(tmp_path, 2)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000002"]


def test_saving_a_step_again_replaces_it_only_when_the_new_one_is_complete(tmp_path, killed):
    save(tmp_path, 4, val_loss=1.0)

    with pytest.raises(RuntimeError):
        killed(tmp_path, 4, val_loss=2.0)
    kept = ckpt.read_info(tmp_path / "step-00000004")
    save(tmp_path, 4, val_loss=3.0)

    assert kept.metric("val/loss") == 1.0
    assert ckpt.read_info(tmp_path / "step-00000004").metric("val/loss") == 3.0


def test_verification_detects_a_flipped_byte(tmp_path):
    info = save(tmp_path, 1)
    weights = info.path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))

    with pytest.raises(ckpt.CheckpointError, match=r"corrupted: the sha256 of model.safetensors"):
        ckpt.read_info(info.path)
    assert ckpt.read_info(info.path, verify=False).step == 1  # listing does not hash


def test_latest_skips_a_corrupted_checkpoint_with_a_warning(tmp_path, caplog):
    save(tmp_path, 1)
    newest = save(tmp_path, 2)
    (newest.path / ckpt.TRAINER_STATE).write_bytes(b"garbage")

    with caplog.at_level(logging.WARNING, logger="codex.models"):
        latest = ckpt.latest_checkpoint(tmp_path)

    assert latest.step == 1
    assert "step-00000002 is corrupted" in caplog.text


def test_latest_skips_an_incomplete_checkpoint_with_a_warning(tmp_path, caplog):
    save(tmp_path, 1)
    (save(tmp_path, 2).path / ckpt.MARKER).unlink()

    with caplog.at_level(logging.WARNING, logger="codex.models"):
        latest = ckpt.latest_checkpoint(tmp_path)

    assert latest.step == 1
    assert "step-00000002 is incomplete" in caplog.text


def test_latest_of_nothing_is_none(tmp_path):
    assert ckpt.latest_checkpoint(tmp_path / "missing") is None


def test_a_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ckpt.CheckpointError, match="does not exist"):
        ckpt.read_info(tmp_path / "step-00000009")


def test_retention_keeps_the_last_k_and_the_best_k(tmp_path):
    losses = {1: 5.0, 2: 1.0, 3: 4.0, 4: 2.0, 5: 3.0, 6: 3.5}
    for step, loss in losses.items():
        save(tmp_path, step, val_loss=loss)

    removed = ckpt.prune(tmp_path, keep_last=2, keep_best=2, monitor="val/loss", mode="min")

    assert sorted(p.name for p in removed) == ["step-00000001", "step-00000003"]
    assert [i.step for i in ckpt.list_checkpoints(tmp_path)] == [2, 4, 5, 6]


def test_the_best_is_never_pruned_even_when_it_is_old(tmp_path):
    for step in range(1, 8):
        save(tmp_path, step, val_loss=float(step))  # step 1 is the best (mode min)
        ckpt.prune(tmp_path, keep_last=1, keep_best=1, monitor="val/loss", mode="min")

    assert [i.step for i in ckpt.list_checkpoints(tmp_path)] == [1, 7]


def test_retention_by_a_metric_to_maximise(tmp_path):
    for step, acc in {1: 0.9, 2: 0.1, 3: 0.2}.items():
        ckpt.save_checkpoint(tmp_path, step, write_model=write_weights, trainer_state={}, rng_json={},
                             meta={"metrics": {"val/acc": acc}})

    ckpt.prune(tmp_path, keep_last=1, keep_best=1, monitor="val/acc", mode="max")

    assert [i.step for i in ckpt.list_checkpoints(tmp_path)] == [1, 3]


def test_pruning_leaves_incomplete_checkpoints_and_temporaries_alone(tmp_path):
    save(tmp_path, 1)
    (tmp_path / "step-00000002").mkdir()  # being written by someone, or dead: not ours to judge here

    ckpt.prune(tmp_path, keep_last=1, keep_best=0, monitor="val/loss", mode="min")

    assert (tmp_path / "step-00000001").is_dir() and (tmp_path / "step-00000002").is_dir()


def test_trainer_state_loads_with_weights_only(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    _, tensors = ckpt.capture_rng()
    info = ckpt.save_checkpoint(tmp_path, 1, write_model=write_weights,
                                trainer_state={"optimizer": optimizer.state_dict(), "rng": [tensors]},
                                rng_json={}, meta={})

    state = torch.load(info.path / ckpt.TRAINER_STATE, weights_only=True)

    restored = torch.optim.AdamW(model.parameters(), lr=0.1)
    restored.load_state_dict(state["optimizer"])
    assert torch.equal(restored.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])


def draws() -> tuple[list[float], list[float], list[float], float]:
    return ([random.random() for _ in range(5)], np.random.rand(5).tolist(), torch.rand(5).tolist(),
            random.gauss(0, 1))


def test_rng_states_round_trip_exactly_through_json_and_weights_only_torch(tmp_path):
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    random.gauss(0, 1)  # leaves a cached gaussian in Python's state
    np.random.standard_normal()
    json_state, tensors = ckpt.capture_rng()
    expected = draws()
    torch.save(tensors, tmp_path / "rng.pt")

    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    ckpt.restore_rng(json.loads(json.dumps(json_state)), torch.load(tmp_path / "rng.pt", weights_only=True))

    assert draws() == expected
