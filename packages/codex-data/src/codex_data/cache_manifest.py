"""The token cache's manifest: what a cache holds (shards per split, with sha256) and the key
of the inputs it was built from (sources, tokenizer, filters, split ratios, seed); see
``docs/token-cache.md``. Plain data, no I/O beyond JSON conversion."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from codex_data.split import ratios_dict

FORMAT = "codex-token-cache"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARD_TOKENS = 64 * 2**20
KEY_FIELDS = ("sources", "tokenizer_fingerprint", "filter_fingerprint", "split_ratios", "seed")
SEAL = "manifest_sha256"
"""The manifest's field holding the sha256 of its other fields (:func:`seal`)."""


@dataclass(frozen=True)
class ShardInfo:
    file: str  # "<split>-NNNNN.bin", relative to the cache folder
    tokens: int
    sha256: str


@dataclass(frozen=True)
class SplitInfo:
    documents: int  # kept documents (each followed by eos)
    tokens: int  # all shards together, eos ids included
    shards: list[ShardInfo]


@dataclass(frozen=True)
class CacheManifest:
    """The contents of ``manifest.json`` (see ``docs/token-cache.md``)."""

    sources: list[dict[str, str]]
    tokenizer_fingerprint: str
    vocab_size: int
    eos_id: int
    filter_fingerprint: str
    filter_counts: dict[str, int]
    split_ratios: dict[str, float]
    seed: int
    dtype: str
    counts: dict[str, int]
    splits: dict[str, SplitInfo]
    codex_core_version: str
    created_at: str
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def key(self) -> dict[str, Any]:
        """The inputs that decide the cache's contents; ``ensure_cache`` compares these."""
        return {name: getattr(self, name) for name in KEY_FIELDS}

    def fingerprint(self) -> str:
        """sha256 of :meth:`key` as canonical JSON: equal for caches of the same inputs
        (what a run's manifest records as ``data.fingerprint``)."""
        canonical = json.dumps(self.key(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CacheManifest:
        data = {k: v for k, v in data.items() if k != SEAL}
        data["splits"] = {
            name: SplitInfo(int(s["documents"]), int(s["tokens"]), [ShardInfo(**sh) for sh in s["shards"]])
            for name, s in data["splits"].items()
        }
        return cls(**data)


def _digest(fields: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: v for k, v in fields.items() if k != SEAL}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def seal(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` (a manifest as JSON-ready values) with its ``manifest_sha256``: the sha256 of
    the other fields as canonical JSON, so a changed byte anywhere in ``manifest.json`` is
    found, not only in the shards it lists."""
    return {**{k: v for k, v in fields.items() if k != SEAL}, SEAL: _digest(fields)}


def seal_matches(fields: Mapping[str, Any]) -> bool:
    """False when ``fields`` carries a ``manifest_sha256`` that is not its own (a manifest
    written before the seal existed has none and matches)."""
    return SEAL not in fields or fields[SEAL] == _digest(fields)


def cache_key(*, sources: Iterable[Mapping[str, str]], tokenizer_fingerprint: str,
              filter_fingerprint: str, ratios: Any, seed: int) -> dict[str, Any]:
    """The ``expect`` dict for :func:`load_cache`: the manifest's key for these inputs."""
    return {
        "sources": [{"uri": str(s["uri"]), "sha256": str(s["sha256"])} for s in sources],
        "tokenizer_fingerprint": tokenizer_fingerprint,
        "filter_fingerprint": filter_fingerprint,
        "split_ratios": ratios_dict(ratios),
        "seed": int(seed),
    }


def token_dtype(vocab_size: int) -> np.dtype[Any]:
    """``uint16`` when every id fits (vocab_size <= 65536), else ``uint32``; little-endian."""
    return np.dtype("<u2") if vocab_size <= 2**16 else np.dtype("<u4")
