"""The data pipeline: a run config and a tokenizer to LM windows or SFT batches, and the
token cache ``codex data prepare -c`` and ``codex train`` share."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codex_core.cli import main
from codex_core.config import RunConfig, load_config
from codex_core.context import BuildContext
from codex_core.errors import CodexError
from codex_core.plugins import get_plugin_manager
from codex_data import LMSource, SFTSource, open_pipeline, prepare_cache, split_documents
from codex_data.feed import DataFeed
from codex_data.sft import pad_examples

SEED = 7


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def context(home: Path) -> BuildContext:
    return BuildContext(registry=get_plugin_manager().registry, cache_dir=home, seed=SEED)


def text_corpus(tmp_path: Path, n: int = 40) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(n):
        (corpus / f"doc{i}.txt").write_text(f"document {i}: the quick brown fox jumps over the lazy dog\n" * 2)
    (corpus / "secret.txt").write_text('TOKEN = "ghp_' + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8" + '"\n')
    return corpus


def sft_rows(tmp_path: Path, n: int = 23) -> Path:
    rows = tmp_path / "sft.jsonl"
    rows.write_text("".join(json.dumps({"prompt": f"{i}+{i}?", "completion": f"{2 * i}" + "!" * (i % 5)})
                            + "\n" for i in range(n)))
    return rows


def config_file(tmp_path: Path, data: str, trainer: str = "{seq_len: 8, micro_batch_size: 2, global_batch_size: 4}",
                ) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(f"run: {{seed: {SEED}}}\ntokenizer: char\ndata: {data}\nmodel: gpt2\ntrainer: {trainer}\n")
    return path


def config(path: Path) -> RunConfig:
    return load_config(path).config


def take(batches: Iterator[Any], n: int) -> list[Any]:
    return list(islice(batches, n))


def codex(*args: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    assert exit_.value.code == 0


# -- LM windows ------------------------------------------------------------------------


def test_lm_windows_are_the_data_feeds_over_the_train_split(tmp_path: Path, home: Path) -> None:
    corpus = text_corpus(tmp_path)
    run = config(config_file(tmp_path, f"{{name: text, params: {{paths: ['{corpus}']}}, "
                                       "split: {train: 0.8, val: 0.2, test: 0}}"))
    tokenizer = context(home).build("tokenizer", run.tokenizer)

    source = open_pipeline(run, tokenizer, context(home), world_size=1)

    assert isinstance(source, LMSource)
    feed = DataFeed(source.cache.split("train"), seq_len=8, micro_batch=2, global_batch=4, seed=SEED)
    expected = [b.tokens for b in take(feed.batches(), 30)]
    got = [b.tokens for b in take(source.train_batches(0, 1), 30)]
    assert all(np.array_equal(x, y) for x, y in zip(got, expected, strict=True))
    assert (source.accum_steps, source.global_batch, source.tokens_per_step) == (2, 4, 32)


def test_lm_val_windows_are_the_first_windows_of_the_val_split_in_order(tmp_path: Path, home: Path) -> None:
    corpus = text_corpus(tmp_path)
    run = config(config_file(tmp_path, f"{{name: text, params: {{paths: ['{corpus}']}}, "
                                       "split: {train: 0.8, val: 0.2, test: 0}}"))
    tokenizer = context(home).build("tokenizer", run.tokenizer)
    source = open_pipeline(run, tokenizer, context(home))
    val = np.asarray(source.cache.split("val"), dtype=np.int64)

    one = source.val_batches(0, 1, n_batches=3)
    halves = [source.val_batches(rank, 2, n_batches=3) for rank in (0, 1)]

    windows = [val[w * 8:w * 8 + 9] for w in range(6)]
    assert [b.dtype for b in one] == [np.int64] * 3
    assert all(np.array_equal(b, np.stack(windows[i * 2:i * 2 + 2])) for i, b in enumerate(one))
    assert np.array_equal(np.concatenate(halves[0] + halves[1])[:, 0],
                          np.stack(windows[0::2] + windows[1::2])[:, 0])


def test_an_lm_source_resumes_from_its_state_dict_exactly(tmp_path: Path, home: Path) -> None:
    corpus = text_corpus(tmp_path)
    run = config(config_file(tmp_path, f"{{name: text, params: {{paths: ['{corpus}']}}}}"))
    tokenizer = context(home).build("tokenizer", run.tokenizer)
    uninterrupted = take(open_pipeline(run, tokenizer, context(home)).train_batches(0, 1), 20)
    first = open_pipeline(run, tokenizer, context(home))
    take(first.train_batches(0, 1), 7)  # 3.5 global batches

    resumed = open_pipeline(run, tokenizer, context(home))
    resumed.load_state_dict(first.state_dict())
    after = take(resumed.train_batches(0, 1), 14)

    assert first.state_dict()["index"] == 3
    assert all(np.array_equal(x.tokens, y.tokens) for x, y in zip(after, uninterrupted[6:], strict=True))


# -- SFT examples ----------------------------------------------------------------------


def sft_run(tmp_path: Path, n: int = 23, trainer: str = "{seq_len: 48, micro_batch_size: 2, global_batch_size: 4}",
            ) -> RunConfig:
    rows = sft_rows(tmp_path, n)
    return config(config_file(tmp_path, f"{{name: sft-jsonl, params: {{paths: ['{rows}']}}, "
                                        "split: {train: 0.8, val: 0.2, test: 0}}", trainer))


def reference_sft(examples: list[Any], seed: int, val_fraction: float, global_batch: int, micro: int,
                  position: tuple[int, int] = (0, 0), split_seed: int = 1337) -> tuple[list[Any], Iterator[list[Any]]]:
    """The held-out examples (by ``split_seed``: data.split.seed) and the micro batches (one
    rank, by ``seed``: run.seed) as the trainer chose them so far."""
    n_val = round(len(examples) * val_fraction)
    order = np.random.Generator(np.random.PCG64(split_seed)).permutation(len(examples))
    val, train = [examples[i] for i in order[:n_val]], [examples[i] for i in order[n_val:]]

    def batches() -> Iterator[list[Any]]:
        epoch, first = position
        while True:
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, epoch])))
            perm = rng.permutation(len(train))
            for index in range(first, len(train) // global_batch):
                mine = perm[index * global_batch:(index + 1) * global_batch]
                for m in range(global_batch // micro):
                    yield [train[int(i)] for i in mine[m * micro:(m + 1) * micro]]
            epoch, first = epoch + 1, 0

    return val, batches()


def same_batch(batch: Any, examples: list[Any], pad_id: int) -> bool:
    padded = pad_examples(examples, pad_id)
    return all(np.array_equal(getattr(batch, k), np.array(padded[k], dtype=np.int64))
               for k in ("input_ids", "labels", "attention_mask"))


def test_sft_batches_follow_the_seed_and_epoch_order_across_epochs(tmp_path: Path, home: Path) -> None:
    run = sft_run(tmp_path)
    tokenizer = context(home).build("tokenizer", run.tokenizer)
    examples = list(context(home).build("dataset", run.data).examples(tokenizer, max_length=48))

    source = open_pipeline(run, tokenizer, context(home))

    assert isinstance(source, SFTSource)
    val, expected = reference_sft(examples, SEED, 0.2, global_batch=4, micro=2)
    got = take(source.train_batches(0, 1), 24)  # 4 global batches an epoch: 3 epochs
    assert [e.id for e in source.val_examples] == [e.id for e in val]
    assert all(same_batch(b, want, source.pad_id) for b, want in zip(got, take(expected, 24), strict=True))
    assert source.position == (3, 0)


def test_sft_state_dict_keeps_its_keys_and_resumes_exactly(tmp_path: Path, home: Path) -> None:
    run = sft_run(tmp_path)
    tokenizer = context(home).build("tokenizer", run.tokenizer)
    first = open_pipeline(run, tokenizer, context(home))
    take(first.train_batches(0, 1), 11)  # 5 steps and half of the 6th
    state = first.state_dict()

    resumed = open_pipeline(run, tokenizer, context(home))
    resumed.load_state_dict({"epoch": 1, "index": 1, "seed": SEED, "global_batch": 4, "n_examples": 18})
    examples = list(context(home).build("dataset", run.data).examples(tokenizer, max_length=48))
    _, expected = reference_sft(examples, SEED, 0.2, global_batch=4, micro=2, position=(1, 1))

    assert state == {"epoch": 1, "index": 1, "seed": SEED, "global_batch": 4, "n_examples": 18}
    assert all(same_batch(b, want, resumed.pad_id)
               for b, want in zip(take(resumed.train_batches(0, 1), 10), take(expected, 10), strict=True))


def test_sft_ranks_share_each_global_batch(tmp_path: Path, home: Path) -> None:
    run = sft_run(tmp_path, trainer="{seq_len: 48, micro_batch_size: 1, global_batch_size: 4}")
    tokenizer = context(home).build("tokenizer", run.tokenizer)
    single = open_pipeline(run, tokenizer, context(home), world_size=1)
    ranks = [open_pipeline(run, tokenizer, context(home), world_size=2) for _ in range(2)]

    one = take(single.train_batches(0, 1), 8)
    two = [take(source.train_batches(rank, 2), 4) for rank, source in enumerate(ranks)]

    for step in range(2):
        rows = [b.input_ids[0].tolist() for b in one[step * 4:(step + 1) * 4]]
        split = [b.input_ids[0].tolist() for rank in two for b in rank[step * 2:(step + 1) * 2]]
        assert split == rows


def test_sft_targets_are_the_labels_shifted_by_one(tmp_path: Path, home: Path) -> None:
    run = sft_run(tmp_path)
    tokenizer = context(home).build("tokenizer", run.tokenizer)

    batch = next(open_pipeline(run, tokenizer, context(home)).train_batches(0, 1))

    assert np.array_equal(batch.targets[:, :-1], batch.labels[:, 1:])
    assert (batch.targets[:, -1] == -100).all() and batch.targets.dtype == np.int64


# -- codex data prepare -c and the pipeline share the cache -------------------------------


def prepare_then_pipeline(tmp_path: Path, home: Path, safety: str) -> tuple[dict[str, Any], Any, float]:
    corpus = text_corpus(tmp_path)
    path = config_file(tmp_path, f"{{name: text, params: {{paths: ['{corpus}']}}, safety: '{safety}'}}")
    codex("data", "prepare", "-c", str(path), "--json")
    run = config(path)
    tokenizer = context(home).build("tokenizer", run.tokenizer)
    dirs = [p for p in (home / "token-caches").iterdir() if p.is_dir()]
    mtime = (dirs[0] / "manifest.json").stat().st_mtime_ns

    cache = prepare_cache(run.data, tokenizer, context(home), seed=run.data.split.seed)

    return {"dirs": dirs, "mtime": mtime}, cache, (cache.path / "manifest.json").stat().st_mtime_ns


def test_prepare_with_safety_off_builds_the_cache_the_pipeline_reuses(tmp_path: Path, home: Path) -> None:
    before, cache, mtime = prepare_then_pipeline(tmp_path, home, "off")

    assert not cache.built
    assert [cache.path] == before["dirs"] and mtime == before["mtime"]
    assert cache.manifest.to_dict()["filter_fingerprint"] == "none"


def test_prepare_with_a_policy_file_builds_the_cache_the_pipeline_reuses(tmp_path: Path, home: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - {name: no-fox, action: redact, literal: fox}\n")

    before, cache, mtime = prepare_then_pipeline(tmp_path, home, str(policy))

    assert not cache.built
    assert [cache.path] == before["dirs"] and mtime == before["mtime"]
    assert cache.manifest.to_dict()["filter_counts"].get("rule:no-fox", 0) > 0


# -- documents of a split ---------------------------------------------------------------


def test_split_documents_are_the_token_caches_documents_of_that_split(tmp_path: Path, home: Path) -> None:
    corpus = text_corpus(tmp_path)
    (corpus / "copy.txt").write_text((corpus / "doc3.txt").read_text())  # an exact duplicate: dropped
    (corpus / "empty.txt").write_text("")
    run = config(config_file(tmp_path, f"{{name: text, params: {{paths: ['{corpus}']}}, "
                                       "split: {train: 0.6, val: 0.2, test: 0.2}}"))
    tokenizer = context(home).build("tokenizer", run.tokenizer)
    cache = prepare_cache(run.data, tokenizer, context(home), seed=SEED)
    eos = tokenizer.special_tokens["eos"]

    for split in ("train", "val", "test"):
        docs = list(split_documents(run.data, context(home), seed=SEED, split=split))
        ids = [token for doc in docs for token in [*tokenizer.encode(doc.text).ids, eos]]
        assert np.array_equal(np.asarray(cache.split(split), dtype=np.int64), np.asarray(ids, dtype=np.int64))
    texts = [doc.text for doc in split_documents(run.data, context(home), seed=SEED)]
    assert len(texts) == len(set(texts)) == 41 and not any("ghp_" in text for text in texts)  # secret redacted


def test_split_documents_rejects_an_unknown_split(tmp_path: Path, home: Path) -> None:
    run = config(config_file(tmp_path, f"{{name: text, params: {{paths: ['{text_corpus(tmp_path)}']}}}}"))

    with pytest.raises(CodexError, match="unknown split 'tests'"):
        list(split_documents(run.data, context(home), seed=SEED, split="tests"))
