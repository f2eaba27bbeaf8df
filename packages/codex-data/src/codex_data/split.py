"""Train/val/test splits by a stable hash of each document's content.

A document's split depends only on its text, the ratios and a salt, never on which other
documents exist or in what order they come: adding data never moves a document, and the
same text always lands in the same split (so exact duplicates cannot leak across splits).

    assigner = SplitAssigner({"train": 0.9, "val": 0.05, "test": 0.05}, salt="1337")
    for doc in documents:
        split = assigner.assign(doc.text)   # None for an exact duplicate
    assert assigner.overlap() == {"train&val": 0, "train&test": 0, "val&test": 0}
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from itertools import combinations
from typing import Any, Literal

SPLITS: tuple[str, ...] = ("train", "val", "test")

SplitName = Literal["train", "val", "test"]


def ratios_dict(ratios: Any) -> dict[str, float]:
    """``{"train": .., "val": .., "test": ..}`` from a ``SplitRatios``, a mapping or None
    (the ``SplitRatios`` defaults). Checks that they are non-negative and add up to 1."""
    if ratios is None:
        from codex_core.config.schema import SplitRatios

        ratios = SplitRatios()
    if hasattr(ratios, "model_dump"):
        ratios = ratios.model_dump(include=set(SPLITS))  # not its seed
    if not isinstance(ratios, Mapping):
        raise TypeError(f"split ratios must be a SplitRatios or a mapping, got {type(ratios).__name__}")
    unknown = set(ratios) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split name(s) {sorted(unknown)}; the splits are {list(SPLITS)}")
    out = {name: float(ratios.get(name, 0.0)) for name in SPLITS}
    if any(v < 0 for v in out.values()) or abs(sum(out.values()) - 1.0) > 1e-6:
        raise ValueError(f"split ratios must be >= 0 and add up to 1, got {out}")
    if out["train"] <= 0:
        raise ValueError("the train split ratio must be above 0")
    return out


def content_hash(text: str) -> bytes:
    """The sha256 digest of the text's UTF-8 bytes: a document's identity for splits and
    de-duplication."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def split_fraction(digest: bytes, salt: str = "") -> float:
    """A number uniform in [0, 1) determined by a content digest and a salt (53 bits of
    ``sha256(salt NUL digest)``)."""
    h = hashlib.sha256(salt.encode("utf-8") + b"\0" + digest).digest()
    return (int.from_bytes(h[:8], "big") >> 11) / float(1 << 53)


def split_of_digest(digest: bytes, ratios: Any, salt: str = "") -> SplitName:
    """The split of a document given its :func:`content_hash`."""
    r = ratios if isinstance(ratios, dict) and set(ratios) == set(SPLITS) else ratios_dict(ratios)
    u = split_fraction(digest, salt)
    named = [name for name in SPLITS if r[name] > 0]
    edge = 0.0
    for name in named[:-1]:
        edge += r[name]
        if u < edge:
            return name  # type: ignore[return-value]
    return named[-1]  # type: ignore[return-value]  # the last split takes the rounding remainder


def assign_split(text: str, ratios: Any, salt: str = "") -> SplitName:
    """``"train"``, ``"val"`` or ``"test"`` for a document's text: a pure function of the
    text, the ratios and the salt."""
    return split_of_digest(content_hash(text), ratios, salt)


def split_overlap(hashes: Mapping[str, Iterable[bytes | str]]) -> dict[str, int]:
    """Documents shared between splits: ``{"train&val": n, ...}`` for every pair of the
    given splits, from each split's content hashes. Every value must be zero."""
    sets = {name: set(values) for name, values in hashes.items()}
    return {f"{a}&{b}": len(sets[a] & sets[b]) for a, b in combinations(sets, 2)}


class SplitAssigner:
    """Assigns documents to splits and drops exact duplicates (same content hash).

    A duplicate always has the split of its first copy, so only that split's hashes are
    searched. ``duplicates`` counts the documents dropped; ``documents`` counts the kept
    documents per split.
    """

    def __init__(self, ratios: Any, salt: str = "") -> None:
        self.ratios = ratios_dict(ratios)
        self.salt = salt
        self.seen: dict[str, set[bytes]] = {name: set() for name in SPLITS}
        self.duplicates = 0

    def assign(self, text: str) -> SplitName | None:
        """The document's split, or None when the same text was seen before."""
        digest = content_hash(text)
        split = split_of_digest(digest, self.ratios, self.salt)
        seen = self.seen[split]
        if digest in seen:
            self.duplicates += 1
            return None
        seen.add(digest)
        return split

    @property
    def documents(self) -> dict[str, int]:
        return {name: len(seen) for name, seen in self.seen.items()}

    def overlap(self) -> dict[str, int]:
        """:func:`split_overlap` of the documents kept so far (all zero by construction)."""
        return split_overlap(self.seen)
