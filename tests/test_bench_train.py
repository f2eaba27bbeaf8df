"""The training benchmark's reference loop reads the same windows, in the same order, as
the codex data feed: that is what lets its losses be compared with codex's digit for digit."""

from __future__ import annotations

import importlib.util
from itertools import islice
from pathlib import Path
from types import ModuleType

import numpy as np

from codex_core.protocols import Document, Encoding
from codex_data.feed import DataFeed
from codex_data.token_cache import build_cache, load_cache

BENCH = Path(__file__).resolve().parents[1] / "bench"


def reference_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_train_reference", BENCH / "_train_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Bytes:
    vocab_size, special_tokens = 259, {"eos": 2}

    def encode_batch(self, texts: list[str]) -> list[Encoding]:
        return [Encoding(ids=[b + 3 for b in t.encode()]) for t in texts]

    def fingerprint(self) -> str:
        return "bytes"


def test_the_reference_loop_reads_the_windows_of_the_data_feed(tmp_path: Path) -> None:
    docs = (Document(str(i), f"document {i}: " + "abcdefgh"[i % 8] * (i % 13 + 5)) for i in range(300))
    build_cache(docs, Bytes(), tmp_path / "cache", ratios={"train": 1.0}, seed=0, sources=[],
                filter_fingerprint="", shard_tokens=1000)  # several shards
    cache = load_cache(tmp_path / "cache")
    assert len(cache.manifest.splits["train"].shards) > 1
    reference = reference_module()

    tokens = reference.train_tokens(tmp_path / "cache")
    feed = DataFeed(cache.split("train"), seq_len=16, micro_batch=4, global_batch=4, seed=1337)
    n = feed.steps_per_epoch + 3  # into the second epoch

    split = cache.split("train")
    assert np.array_equal(tokens, split[0:len(split)])
    ours = [b.tokens for b in islice(feed.batches(), n)]
    theirs = list(islice(reference.batches(tokens, 16, 4, 1337), n))
    assert all(a.dtype == b.dtype == np.int64 and np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
