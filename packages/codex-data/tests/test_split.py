from __future__ import annotations

import random
from collections import Counter

import pytest

from codex_core.config.schema import SplitRatios
from codex_data.split import SplitAssigner, assign_split, ratios_dict, split_overlap

RATIOS = SplitRatios(train=0.8, val=0.1, test=0.1)


def docs(n: int, prefix: str = "doc") -> list[str]:
    return [f"{prefix} number {i}: some text" for i in range(n)]


def test_a_document_always_gets_the_same_split() -> None:
    # Pinned: if these change, every existing cache's val/test set would move.
    ratios = {"train": 0.5, "val": 0.25, "test": 0.25}

    splits = [assign_split(t, ratios, salt="1337") for t in "abcdefgh"]

    assert splits == ["train", "train", "train", "train", "test", "test", "val", "train"]


def test_the_split_does_not_depend_on_order() -> None:
    texts = docs(500)
    shuffled = texts[:]
    random.Random(0).shuffle(shuffled)

    forward = {t: assign_split(t, RATIOS) for t in texts}
    backward = {t: assign_split(t, RATIOS) for t in shuffled}

    assert forward == backward


def test_ratios_are_honoured_on_many_documents() -> None:
    counts = Counter(assign_split(t, RATIOS) for t in docs(20_000))

    assert counts["train"] / 20_000 == pytest.approx(0.8, abs=0.015)
    assert counts["val"] / 20_000 == pytest.approx(0.1, abs=0.01)
    assert counts["test"] / 20_000 == pytest.approx(0.1, abs=0.01)


def test_adding_documents_never_moves_existing_ones() -> None:
    old = docs(1000)
    before = SplitAssigner(RATIOS)
    placed = {t: before.assign(t) for t in old}

    after = SplitAssigner(RATIOS)
    mixed = docs(1000, prefix="new") + old
    random.Random(1).shuffle(mixed)
    replaced = {t: after.assign(t) for t in mixed}

    assert all(replaced[t] == placed[t] for t in old)


def test_the_salt_reshuffles_the_splits() -> None:
    texts = docs(1000)

    moved = sum(assign_split(t, RATIOS, "a") != assign_split(t, RATIOS, "b") for t in texts)

    assert moved > 100


def test_a_zero_ratio_split_gets_nothing() -> None:
    counts = Counter(assign_split(t, {"train": 0.9, "val": 0.1}) for t in docs(2000))

    assert set(counts) == {"train", "val"}


def test_exact_duplicates_are_dropped_and_counted() -> None:
    assigner = SplitAssigner(RATIOS)

    splits = [assigner.assign(t) for t in ["a", "b", "a", "a", "c", "b"]]

    assert splits[2:4] == [None, None] and splits[5] is None
    assert assigner.duplicates == 3
    assert sum(assigner.documents.values()) == 3


def test_no_document_is_shared_between_splits() -> None:
    assigner = SplitAssigner(RATIOS)
    for t in docs(300) * 2:
        assigner.assign(t)

    assert assigner.overlap() == {"train&val": 0, "train&test": 0, "val&test": 0}


def test_split_overlap_reports_shared_documents() -> None:
    report = split_overlap({"train": ["h1", "h2"], "val": ["h2"], "test": ["h3"]})

    assert report == {"train&val": 1, "train&test": 0, "val&test": 0}


@pytest.mark.parametrize("bad", [{"train": 0.5, "val": 0.1}, {"train": 0.5, "dev": 0.5},
                                 {"train": 0.0, "val": 1.0}])
def test_bad_ratios_are_rejected(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ratios_dict(bad)
