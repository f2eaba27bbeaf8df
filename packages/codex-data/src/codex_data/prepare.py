"""``prepare``: dataset -> safety filters -> split and dedup -> token cache, with a manifest.

The tokenizer comes from the registry (by name or a tokenizer.json through the
``tokenizer-json`` component): codex-data never imports a tokenizer package.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from codex_core.protocols import Dataset
from codex_data.safety import Policy, SafetyFilter
from codex_data.token_cache import TokenCache, ensure_cache


class _LiveCounts(Mapping[str, int]):
    """The filter and dataset totals, read when the manifest is written (after the pass)."""

    def __init__(self, safety: SafetyFilter | None, dataset: Any) -> None:
        self._safety, self._dataset = safety, dataset

    def _now(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self._safety is not None:
            counts["blocked"] = self._safety.blocked
            counts["redacted"] = self._safety.redacted
            counts.update({f"rule:{name}": n for name, n in sorted(self._safety.counts.items())})
        for attr in ("skipped", "skipped_rows"):
            value = getattr(self._dataset, attr, None)
            if isinstance(value, int):
                counts["skipped"] = counts.get("skipped", 0) + value
        return counts

    def __getitem__(self, key: str) -> int:
        return self._now()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now())

    def __len__(self) -> int:
        return len(self._now())


def dataset_sources(name: str, dataset: Dataset) -> list[dict[str, str]]:
    """What the manifest records as sources: the dataset by fingerprint, then every file
    with its sha256 when the dataset lists its files."""
    # The dataset's fingerprint covers its params too (a different text_field must not
    # reuse a cache built from the same files).
    sources = [{"uri": f"dataset:{name}", "sha256": dataset.fingerprint()}]
    files = getattr(dataset, "files", None)
    if isinstance(files, list) and files and all(hasattr(f, "sha256") for f in files):
        sources += [{"uri": str(getattr(f, "rel", getattr(f, "path", ""))), "sha256": f.sha256} for f in files]
    return sources


def prepare(
    dataset: Dataset,
    tokenizer: Any,
    out_dir: str | Path,
    *,
    dataset_name: str,
    ratios: Any,
    seed: int,
    policy: Policy | None,
    progress: bool = False,
    verify: bool = True,
) -> TokenCache:
    """Build (or reuse) the token cache of ``dataset`` at ``out_dir``. ``policy=None``
    turns the safety filters off (recorded as filter fingerprint ``"none"``); ``verify``:
    a cache is reused only when every shard hashes as recorded (see ``ensure_cache``)."""
    safety = SafetyFilter(policy) if policy is not None else None
    documents = safety(dataset) if safety is not None else iter(dataset)
    return ensure_cache(
        documents, tokenizer, out_dir, ratios=ratios, seed=seed,
        sources=dataset_sources(dataset_name, dataset),
        filter_fingerprint=policy.fingerprint() if policy is not None else "none",
        filter_counts=_LiveCounts(safety, dataset), progress=progress, verify=verify, batch_size=1024,
    )


def default_cache_dir(cache_root: Path, dataset_name: str, params: Mapping[str, Any], tokenizer: Any) -> Path:
    """``<cache root>/token-caches/<dataset>-<hash>``: one cache per dataset params and tokenizer."""
    key = json.dumps({"dataset": dataset_name, "params": params, "tokenizer": tokenizer.fingerprint()},
                     sort_keys=True, default=str)
    return cache_root / "token-caches" / f"{dataset_name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
