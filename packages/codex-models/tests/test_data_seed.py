"""``data.split.seed`` decides the split (and the SFT hold-out), ``run.seed`` init, dropout
and order: the runs of a seed sweep share one split and one token cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from codex_data import load_cache
from codex_models.training.run import run_training


def cache_of(run: Path) -> Any:
    return load_cache(json.loads((run / "manifest.json").read_text())["data"]["token_cache"])


def test_runs_with_another_run_seed_share_the_token_cache_and_its_val_and_test_tokens(train_config, runs_io):
    tree = {"data__split": json.dumps({"train": 0.6, "val": 0.2, "test": 0.2})}
    one = run_training(train_config(run__name="one", run__seed=1, **tree)[1], progress=False)
    first = {split: np.asarray(cache_of(one.run).split(split)) for split in ("val", "test")}
    two = run_training(train_config(run__name="two", run__seed=2, **tree)[1], progress=False)

    shared = cache_of(two.run)
    assert not shared.built and shared.path == cache_of(one.run).path  # found, not rebuilt
    assert all(np.array_equal(np.asarray(shared.split(split)), first[split]) for split in first)
    assert not runs_io.same_weights(one.run / "checkpoints/step-00000006", two.run / "checkpoints/step-00000006")
    reseeded = {"data__split": json.dumps({"train": 0.6, "val": 0.2, "test": 0.2, "seed": 99})}
    other = run_training(train_config(run__name="other", run__seed=1, **reseeded)[1], progress=False)
    assert not np.array_equal(np.asarray(cache_of(other.run).split("val")), first["val"])


def test_sft_hold_out_follows_the_data_seed_not_the_run_seed(tmp_path: Path, train_env, train_config):
    from codex_core.context import BuildContext
    from codex_core.plugins import get_plugin_manager
    from codex_data import open_pipeline

    rows = tmp_path / "sft.jsonl"
    rows.write_text("".join(json.dumps({"prompt": f"{i}+{i}=", "completion": str(2 * i)}) + "\n" for i in range(30)))
    data = json.dumps({"name": "sft-jsonl", "params": {"paths": [str(rows)]},
                       "split": {"train": 0.7, "val": 0.3, "test": 0.0}})

    def held_out(**overrides: Any) -> list[str]:
        config = train_config(data=data, trainer__seq_len=128, **overrides)[1]
        context = BuildContext(registry=get_plugin_manager().registry, cache_dir=tmp_path / "home")
        tokenizer = context.build("tokenizer", config.tokenizer)
        return [e.id for e in open_pipeline(config, tokenizer, context).val_examples]

    assert held_out(run__seed=1) == held_out(run__seed=2) != held_out(run__seed=1, data__split__seed=5)
