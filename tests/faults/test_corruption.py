"""Corruption: every kind of file in the newest checkpoint and in the token cache, truncated,
with one byte flipped, deleted (and the checkpoint marker edited into other valid JSON).

Checkpoints: each damage is found by sha256 (the marker lists every file's, and seals its own
fields), the message names the checkpoint and the file, and ``latest_checkpoint`` falls back to
the previous complete checkpoint; through the CLI, ``codex train --resume auto`` warns, resumes
from that one and ends bit-identical to a run that was never damaged. Token caches: a flipped
byte in a cached shard is found before it is trained on and the cache is rebuilt.

``pytest -s`` prints the detected/total table of the checkpoint cases.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fault_jobs import Job, final_checkpoint, losses, same_weights, tree_hashes

from codex_core.checkpoints import CheckpointError, latest_checkpoint, read_checkpoint
from codex_core.testing import damage_file

pytestmark = pytest.mark.slow

KINDS = ["README.md", "checkpoint.json", "config.json", "generation_config.json", "model.safetensors", "rng.json",
         "tokenizer.json", "tokenizer_config.json", "trainer_state.pt"]
"""What a checkpoint of the fault job holds (checked against the real one below)."""

MODES = ["truncate", "flip", "delete"]


def damage(path: Path, how: str) -> None:
    """``codex_core.testing.damage_file``; ``edit`` (the marker) changes its token count and keeps valid JSON."""
    damage_file(path, how, edit=lambda fields: fields.update(tokens=fields["tokens"] + 1))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Job:
    """The fault job trained once, undisturbed: run ``ref`` (checkpoints at steps 21 and 24)."""
    job = Job.create(tmp_path_factory.mktemp("corruption"))
    code, err = job.train("ref")
    assert code == 0, err
    return job


def test_every_damaged_checkpoint_file_is_found_and_the_previous_checkpoint_used(
        reference: Job, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = reference.runs / "ref" / "checkpoints"
    newest, previous = "step-00000024", "step-00000021"
    assert sorted(p.name for p in (source / newest).iterdir()) == KINDS
    caplog.set_level(logging.WARNING, logger="codex.checkpoints")
    cases = [(kind, how) for kind in KINDS for how in MODES] + [("checkpoint.json", "edit")]
    found: dict[tuple[str, str], bool] = {}
    for index, (kind, how) in enumerate(cases):
        folder = tmp_path / f"case-{index}"
        shutil.copytree(source, folder)
        damage(folder / newest / kind, how)
        caplog.clear()

        info = latest_checkpoint(folder)

        with pytest.raises(CheckpointError) as raised:
            read_checkpoint(folder / newest)
        warned = [r.getMessage() for r in caplog.records]
        named = [m for m in warned if str(folder / newest) in m and kind in m]
        found[kind, how] = (info is not None and info.path.name == previous and kind in raised.value.message
                            and len(named) == 1)
    table = report(found)
    print(table)
    assert all(found.values()), table


def report(found: dict[tuple[str, str], bool]) -> str:
    """A kinds x damages table (``detected`` / ``MISSED``) with the detected/total count."""
    modes = [mode for mode in (*MODES, "edit") if any(how == mode for _, how in found)]
    lines = [f"{'file':<24}" + "".join(f"{how:>10}" for how in modes)]
    for kind in KINDS:
        cells = [("detected" if found[kind, how] else "MISSED") if (kind, how) in found else "-" for how in modes]
        lines.append(f"{kind:<24}" + "".join(f"{cell:>10}" for cell in cells))
    lines.append(f"checkpoint corruptions detected: {sum(found.values())}/{len(found)}")
    return "\n".join(lines)


CLI_CASES = [("model.safetensors", "flip"), ("checkpoint.json", "edit"), ("rng.json", "delete")]


def test_resume_auto_skips_a_damaged_checkpoint_and_ends_as_an_undisturbed_run(reference: Job,
                                                                              tmp_path: Path) -> None:
    # Each case: a copy of the finished run whose newest checkpoint is damaged, resumed with
    # --resume auto (the cases run at once: each is its own runs folder).
    ref = reference.runs / "ref"
    started: list[tuple[str, str, Job, subprocess.Popen[str]]] = []
    for index, (kind, how) in enumerate(CLI_CASES):
        runs = tmp_path / f"runs-{index}"
        shutil.copytree(reference.runs, runs)
        damage(runs / "ref" / "checkpoints" / "step-00000024" / kind, how)
        job = Job(reference.root, reference.config, reference.tree, {**reference.env, "CODEX_RUNS_DIR": str(runs)})
        started.append((kind, how, job, job.start("ref", "--resume", "auto")))
    for kind, how, job, process in started:
        _, err = process.communicate(timeout=300)
        run = job.runs / "ref"
        damaged = run / "checkpoints" / "step-00000024"

        assert process.returncode == 0, (kind, how, err)
        assert any(f"skipping checkpoint {damaged}" in line and kind in line for line in err.splitlines()), err
        assert f"resumed from {run / 'checkpoints' / 'step-00000021'} (step 21)" in err
        assert losses(run) == losses(ref) and [s for s, _ in losses(run)] == list(range(1, 25))
        assert same_weights(final_checkpoint(run), final_checkpoint(ref))
        read_checkpoint(damaged)  # written again, whole


def cache_content(cache: Path) -> dict[str, Any]:
    """A token cache's shard hashes and its manifest without provenance (``created_at``) and seal."""
    manifest = json.loads((cache / "manifest.json").read_text(encoding="utf-8"))
    return {"shards": tree_hashes(cache, skip=("manifest.json",)),
            "manifest": {k: v for k, v in manifest.items() if k not in ("created_at", "manifest_sha256")}}


def test_a_flipped_byte_in_the_cached_train_shard_is_rebuilt_before_training(reference: Job,
                                                                             tmp_path: Path) -> None:
    from codex_data.token_cache import load_cache

    home = tmp_path / "home"
    shutil.copytree(reference.home, home)
    (cache,) = (home / "token-caches").glob("text-*")
    intact = cache_content(cache)
    damage(cache / "train-00000.bin", "flip")
    job = Job(reference.root, reference.config, reference.tree,
              {**reference.env, "CODEX_HOME": str(home), "CODEX_RUNS_DIR": str(tmp_path / "runs")})

    code, err = job.train("ref")

    warnings = [line for line in err.splitlines() if "WARNING" in line and "token cache" in line]
    assert code == 0, err
    assert len(warnings) == 1 and "train-00000.bin" in warnings[0] and "rebuilding" in warnings[0], err
    assert cache_content(cache) == intact
    load_cache(cache, verify=True)
    assert losses(job.runs / "ref") == losses(reference.runs / "ref")
    assert same_weights(final_checkpoint(job.runs / "ref"), final_checkpoint(reference.runs / "ref"))
