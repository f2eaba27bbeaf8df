"""Reading checkpoints: the completion marker, sha256 verification, listing, latest and best.

The checkpoints here are written the way a training engine writes them (files, then the
marker with every file's sha256, all inside ``atomic_dir``), without torch."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

import codex_core
from codex_core.checkpoints import (
    MARKER,
    CheckpointError,
    CheckpointInfo,
    best_checkpoints,
    latest_checkpoint,
    list_checkpoints,
    read_checkpoint,
)
from codex_core.fsutil import atomic_dir, sha256_file
from codex_core.runs import RunDir


def save(root: Path, step: int, *, val_loss: float | None = None, metrics: dict[str, Any] | None = None,
         crash: bool = False) -> CheckpointInfo:
    """A checkpoint for ``step`` as an engine writes it; ``crash`` dies before the marker."""
    metrics = dict(metrics or ({} if val_loss is None else {"val/loss": val_loss}))
    final = root / f"step-{step:08d}"
    with atomic_dir(final, replace=True) as tmp:
        (tmp / "model.safetensors").write_bytes(bytes(range(step % 256)) * 100)
        (tmp / "rng.json").write_text(json.dumps({"ranks": []}))
        if crash:
            raise RuntimeError("killed while writing")
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir())}
        marker = {"format": 1, "step": step, "tokens": 512 * step, "time": 1.0, "metrics": metrics, "files": files}
        (tmp / MARKER).write_text(json.dumps(marker))
    return CheckpointInfo(final, marker)


def test_a_checkpoint_reads_back_its_step_tokens_and_metrics(tmp_path: Path) -> None:
    save(tmp_path, 3, val_loss=2.5)

    info = read_checkpoint(tmp_path / "step-00000003")

    assert (info.step, info.meta["tokens"], info.metric("val/loss")) == (3, 1536, 2.5)
    assert info.metric("val/acc") is None


def test_a_metric_that_is_not_a_number_reads_as_none(tmp_path: Path) -> None:
    save(tmp_path, 1, metrics={"val/loss": None, "note": "x"})

    info = read_checkpoint(tmp_path / "step-00000001")

    assert (info.metric("val/loss"), info.metric("note")) == (None, None)


def test_a_writer_that_dies_midway_leaves_the_previous_checkpoint_the_latest(tmp_path: Path) -> None:
    save(tmp_path, 1)

    with pytest.raises(RuntimeError, match="killed"):
        save(tmp_path, 2, crash=True)

    assert not (tmp_path / "step-00000002").exists()
    latest = latest_checkpoint(tmp_path)
    assert latest is not None and latest.step == 1


def test_verification_detects_a_flipped_byte(tmp_path: Path) -> None:
    info = save(tmp_path, 1)
    weights = info.path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))

    with pytest.raises(CheckpointError, match=r"corrupted: the sha256 of model.safetensors"):
        read_checkpoint(info.path)
    assert read_checkpoint(info.path, verify=False).step == 1  # listing does not hash


def test_verification_detects_a_missing_file(tmp_path: Path) -> None:
    info = save(tmp_path, 1)
    (info.path / "rng.json").unlink()

    with pytest.raises(CheckpointError, match=r"corrupted: rng.json is missing"):
        read_checkpoint(info.path)


def test_an_unreadable_marker_is_a_clear_error(tmp_path: Path) -> None:
    info = save(tmp_path, 1)
    (info.path / MARKER).write_text("{not json")

    with pytest.raises(CheckpointError, match=rf"step-00000001 is corrupted: {MARKER} is unreadable"):
        read_checkpoint(info.path, verify=False)


def test_a_marker_without_file_hashes_lists_but_does_not_verify(tmp_path: Path) -> None:
    folder = tmp_path / "step-00000005"
    folder.mkdir()
    (folder / MARKER).write_text(json.dumps({"step": 5, "tokens": 10}))

    assert [i.step for i in list_checkpoints(tmp_path)] == [5]
    with pytest.raises(CheckpointError, match="is unreadable"):
        read_checkpoint(folder, verify=True)


def test_latest_skips_a_corrupted_checkpoint_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    save(tmp_path, 1)
    newest = save(tmp_path, 2)
    (newest.path / "rng.json").write_bytes(b"garbage")

    with caplog.at_level(logging.WARNING, logger="codex"):
        latest = latest_checkpoint(tmp_path)

    assert latest is not None and latest.step == 1
    assert "step-00000002 is corrupted" in caplog.text


def test_latest_skips_an_incomplete_checkpoint_with_a_warning(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    save(tmp_path, 1)
    (save(tmp_path, 2).path / MARKER).unlink()

    with caplog.at_level(logging.WARNING, logger="codex"):
        latest = latest_checkpoint(tmp_path)

    assert latest is not None and latest.step == 1
    assert "step-00000002 is incomplete" in caplog.text


def test_latest_of_nothing_is_none(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path / "missing") is None


def test_a_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "step-00000009")


def test_listing_is_by_step_and_skips_incomplete_ones_and_temporaries(tmp_path: Path) -> None:
    for step in (10, 2, 30):
        save(tmp_path, step)
    (tmp_path / "step-00000040").mkdir()  # being written by someone, or dead
    (tmp_path / ".step-00000050.tmp-1-00").mkdir()

    assert [i.step for i in list_checkpoints(tmp_path)] == [2, 10, 30]


def test_best_checkpoints_to_minimise_are_best_first_and_ties_newer_first(tmp_path: Path) -> None:
    losses = {1: 5.0, 2: 1.0, 3: 4.0, 4: 1.0, 5: None}
    infos = [save(tmp_path, step, val_loss=loss) for step, loss in losses.items()]

    best = best_checkpoints(infos, "val/loss", "min")

    assert [i.step for i in best] == [4, 2, 3, 1]


def test_best_checkpoints_to_maximise(tmp_path: Path) -> None:
    infos = [save(tmp_path, step, metrics={"val/acc": acc}) for step, acc in {1: 0.9, 2: 0.1, 3: 0.2}.items()]

    assert [i.step for i in best_checkpoints(infos, "val/acc", "max")] == [1, 3, 2]


def test_a_run_lists_its_checkpoints(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "exp")
    run.unlock()
    good = save(run.checkpoints_dir, 20)
    save(run.checkpoints_dir, 10)
    (good.path / "rng.json").write_text("changed")

    assert [i.step for i in run.checkpoints()] == [10, 20]
    assert [i.step for i in run.checkpoints(verify=True)] == [10]


def test_a_run_without_a_checkpoints_folder_has_none(tmp_path: Path) -> None:
    assert RunDir(tmp_path / "elsewhere").checkpoints() == []


def test_checkpoint_errors_are_user_errors_and_checkpoint_info_is_a_core_name() -> None:
    assert issubclass(CheckpointError, codex_core.CodexError)
    assert codex_core.CheckpointInfo is CheckpointInfo
