from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from codex_core.config.schema import TrainerConfig
from codex_core.errors import CodexError
from codex_core.protocols import Document
from codex_data.feed import Batch, DataFeed
from codex_data.token_cache import build_cache, load_cache

SEQ = 8
TOKENS = np.arange(1000, dtype=np.uint16)  # 124 windows of 9 tokens stepping 8


def feed(micro: int = 2, global_batch: int = 8, seed: int = 0, tokens: np.ndarray = TOKENS) -> DataFeed:
    return DataFeed(tokens, seq_len=SEQ, micro_batch=micro, global_batch=global_batch, seed=seed)


def take(batches: object, n: int) -> list[Batch]:
    return list(islice(batches, n))  # type: ignore[call-overload]


def global_batches(f: DataFeed, world_size: int, n: int) -> list[np.ndarray]:
    """The first n global batches, assembled from every rank's micro batches in rank order."""
    per_rank = [take(f.batches(rank, world_size, position=(0, 0)), n * f.accum_steps(world_size))
                for rank in range(world_size)]
    accum = f.accum_steps(world_size)
    return [np.concatenate([b.tokens for rank in per_rank for b in rank[i * accum:(i + 1) * accum]])
            for i in range(n)]


def test_batches_are_int64_windows_of_seq_len_plus_one() -> None:
    batch = next(feed().batches())

    assert batch.tokens.shape == (2, SEQ + 1) and batch.tokens.dtype == np.int64
    assert np.array_equal(batch.inputs[:, 1:], batch.targets[:, :-1])
    starts = batch.tokens[:, 0]
    assert all(s % SEQ == 0 for s in starts)  # windows start at multiples of seq_len
    assert np.array_equal(batch.tokens, starts[:, None] + np.arange(SEQ + 1))


def test_the_order_is_a_function_of_seed_and_epoch() -> None:
    a = [b.tokens for b in take(feed(seed=1).batches(), 20)]
    b = [b.tokens for b in take(feed(seed=1).batches(), 20)]
    c = [b.tokens for b in take(feed(seed=2).batches(), 20)]

    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_an_epoch_visits_each_window_at_most_once() -> None:
    f = feed()
    epoch = take(f.batches(), f.steps_per_epoch * f.accum_steps(1))

    starts = np.concatenate([b.tokens[:, 0] for b in epoch])

    assert len(set(starts.tolist())) == len(starts) == 120  # 124 windows, 4 left over this epoch


def test_resuming_from_a_state_dict_continues_the_stream_exactly() -> None:
    uninterrupted = take(feed().batches(), 40)
    first = feed()
    stream = first.batches()
    take(stream, 14)  # 3.5 global batches: the 4th is not complete
    state = first.state_dict()

    resumed = feed()
    resumed.load_state_dict(state)
    after = take(resumed.batches(), 40 - 12)

    assert state["epoch"] == 0 and state["index"] == 3
    assert all(np.array_equal(x.tokens, y.tokens) for x, y in zip(after, uninterrupted[12:], strict=True))


def test_position_alone_resumes_without_replay() -> None:
    uninterrupted = take(feed().batches(), 40)

    resumed = take(feed().batches(position=(0, 5)), 20)

    assert all(np.array_equal(x.tokens, y.tokens) for x, y in zip(resumed, uninterrupted[20:], strict=True))


@pytest.mark.parametrize("world_size", [2, 4])
def test_every_world_size_sees_the_same_global_batches(world_size: int) -> None:
    single = global_batches(feed(), 1, 5)

    split = global_batches(feed(), world_size, 5)

    assert all(np.array_equal(x, y) for x, y in zip(single, split, strict=True))


def test_ranks_get_disjoint_slices() -> None:
    f = feed()
    rank0, rank1 = (next(f.batches(rank, 2, position=(0, 0))).tokens for rank in (0, 1))

    assert not set(rank0[:, 0].tolist()) & set(rank1[:, 0].tolist())


def test_epochs_roll_over_with_a_new_order() -> None:
    f = feed(micro=8, global_batch=8)  # 15 global batches per epoch

    batches = take(f.batches(), 16)

    assert [b.epoch for b in batches[14:]] == [0, 1] and batches[15].index == 0
    assert f.position == (1, 1)
    assert not np.array_equal(batches[0].tokens, batches[15].tokens)


def test_the_last_micro_batch_marks_the_step() -> None:
    marks = [(b.micro, b.last) for b in take(feed(micro=2, global_batch=8).batches(0, 2), 4)]

    assert marks == [(0, False), (1, True), (0, False), (1, True)]


def test_a_state_from_another_configuration_is_refused() -> None:
    state = feed(seed=1).state_dict()

    with pytest.raises(CodexError, match="seed was 1, now 2"):
        feed(seed=2).load_state_dict(state)


def test_a_global_batch_not_divisible_by_micro_batch_times_ranks_is_refused() -> None:
    with pytest.raises(CodexError, match="global_batch \\(8\\) must be a multiple of micro_batch x world_size"):
        feed(micro=2, global_batch=8).batches(0, 3)
    with pytest.raises(CodexError, match="must be a multiple of micro_batch"):
        feed(micro=3, global_batch=8)


def test_a_window_longer_than_the_data_is_refused() -> None:
    with pytest.raises(CodexError, match="too few for one window"):
        feed(tokens=TOKENS[:SEQ])
    with pytest.raises(CodexError, match="fewer than one global batch"):
        feed(tokens=TOKENS[:50], global_batch=8)


def test_a_feed_follows_the_trainer_config() -> None:
    trainer = TrainerConfig(seq_len=SEQ, micro_batch_size=2, grad_accum_steps=3)

    f = DataFeed.from_config(TOKENS, trainer, world_size=2, seed=0)

    assert (f.global_batch, f.accum_steps(2)) == (12, 3)
    with pytest.raises(CodexError, match="does not hold"):
        DataFeed.from_config(TOKENS, TrainerConfig(seq_len=SEQ, micro_batch_size=2, global_batch_size=8,
                                                   grad_accum_steps=3), world_size=2)


def test_a_feed_reads_a_sharded_token_cache(tmp_path: Path) -> None:
    class Bytes:
        vocab_size, special_tokens = 259, {"eos": 2}

        def encode_batch(self, texts: list[str]) -> list[object]:
            from codex_core.protocols import Encoding
            return [Encoding(ids=[b + 3 for b in t.encode()]) for t in texts]

        def fingerprint(self) -> str:
            return "bytes"

    docs = (Document(str(i), f"text {i} " * 20) for i in range(100))
    build_cache(docs, Bytes(), tmp_path / "c", ratios={"train": 1.0}, seed=0, sources=[],
                filter_fingerprint="", shard_tokens=500)
    train = load_cache(tmp_path / "c").split("train")

    batch = next(DataFeed(train, seq_len=16, micro_batch=4, global_batch=8, seed=0).batches())

    assert batch.tokens.shape == (4, 17) and batch.tokens.max() < 259
