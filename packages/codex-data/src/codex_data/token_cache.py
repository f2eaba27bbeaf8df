"""Token caches: documents tokenized once into flat, memory-mappable token files per split.

The format is a contract (``docs/token-cache.md``)::

    <cache>/manifest.json        written last; a folder without it is not a cache
    <cache>/train-00000.bin      raw little-endian uint16 (vocab <= 65536) or uint32 ids,
    <cache>/train-00001.bin      each document followed by the tokenizer's eos id
    <cache>/val-00000.bin
    <cache>/test-00000.bin

``build_cache`` writes into a temporary sibling folder and renames it into place
(``codex_core.fsutil.atomic_dir``);
``load_cache`` checks the manifest (its own sha256 and every shard's size; with
``verify=True`` every shard's sha256 too); ``TokenCache.split`` hashes each shard the first
time it maps it, unless it was verified already, so a changed byte is never trained on;
``ensure_cache`` reuses a cache whose manifest matches the inputs and whose shards all hash
as recorded, and rebuilds otherwise (a damaged one with a warning naming the file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from codex_core.errors import CodexError
from codex_core.faults import failpoint
from codex_core.fsutil import atomic_dir, atomic_write_json, remove_temporaries, sha256_file
from codex_core.protocols import Document
from codex_data.cache_manifest import (
    FORMAT,
    FORMAT_VERSION,
    KEY_FIELDS,
    MANIFEST,
    SHARD_TOKENS,
    CacheManifest,
    ShardInfo,
    SplitInfo,
    cache_key,
    seal,
    seal_matches,
    token_dtype,
)
from codex_data.split import SPLITS, SplitAssigner

log = logging.getLogger("codex.data")

REBUILD = "delete the folder or rebuild the cache (codex data prepare)"


class CorruptCacheError(CodexError):
    """A token cache is there but damaged: its manifest is unreadable or not its own sha256,
    or a shard is missing, of the wrong size or of the wrong sha256 (the message names the file)."""


class _ShardWriter:
    """Appends token arrays to ``<split>-NNNNN.bin`` files of at most ``limit`` tokens."""

    def __init__(self, folder: Path, split: str, dtype: np.dtype[Any], limit: int) -> None:
        self.folder, self.split, self.dtype, self.limit = folder, split, dtype, limit
        self.shards: list[ShardInfo] = []
        self.documents = 0
        self.tokens = 0
        self._handle: BinaryIO | None = None
        self._digest = hashlib.sha256()
        self._count = 0

    def write(self, ids: np.ndarray[Any, Any]) -> None:
        ids = ids.astype(self.dtype, copy=False)
        while len(ids):
            if self._handle is None:
                name = f"{self.split}-{len(self.shards):05d}.bin"
                self._handle = open(self.folder / name, "wb")  # noqa: SIM115 - closed in _close
            take = ids[: self.limit - self._count]
            raw = take.tobytes()
            self._handle.write(raw)
            self._digest.update(raw)
            self._count, self.tokens, ids = self._count + len(take), self.tokens + len(take), ids[len(take):]
            if self._count >= self.limit:
                self._close()

    def _close(self) -> None:
        if self._handle is None:
            return
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        name = Path(self._handle.name).name
        self.shards.append(ShardInfo(name, self._count, self._digest.hexdigest()))
        self._handle, self._digest, self._count = None, hashlib.sha256(), 0
        failpoint("token-cache-shard")

    def finish(self) -> SplitInfo:
        self._close()
        return SplitInfo(self.documents, self.tokens, self.shards)


def build_cache(
    documents: Iterable[Document],
    tokenizer: Any,
    out_dir: str | Path,
    *,
    ratios: Any,
    seed: int,
    sources: list[dict[str, str]],
    filter_fingerprint: str,
    filter_counts: Mapping[str, int] | None = None,
    batch_size: int = 256,
    shard_tokens: int = SHARD_TOKENS,
    progress: bool = False,
) -> CacheManifest:
    """Tokenize ``documents`` into a token cache at ``out_dir`` (replacing what is there).

    Documents are split by content hash salted with ``seed`` (:mod:`codex_data.split`),
    exact duplicates and empty documents are dropped (counted), and each kept document's
    ids are followed by the tokenizer's eos id. ``sources`` (``{uri, sha256}`` each),
    ``filter_fingerprint`` and ``filter_counts`` (e.g. ``{"skipped": 2, "redacted": 5}``)
    describe what produced the documents and are recorded in the manifest.
    """
    from codex_core import __version__ as core_version

    out_dir = Path(out_dir)
    eos = dict(tokenizer.special_tokens).get("eos")
    if eos is None:
        raise CodexError(
            f"tokenizer {type(tokenizer).__name__} has no eos token; the token cache separates "
            "documents with it", hint="use a tokenizer with an 'eos' special token")
    vocab_size = int(tokenizer.vocab_size)
    dtype = token_dtype(vocab_size)
    if batch_size < 1 or shard_tokens < 1:
        raise ValueError("batch_size and shard_tokens must be at least 1")
    key = cache_key(sources=sources, tokenizer_fingerprint=tokenizer.fingerprint(),
                    filter_fingerprint=filter_fingerprint, ratios=ratios, seed=seed)
    assigner = SplitAssigner(key["split_ratios"], salt=str(seed))

    with atomic_dir(out_dir, replace=True) as tmp:
        writers = {name: _ShardWriter(tmp, name, dtype, shard_tokens) for name in SPLITS}
        seen = empty = 0
        started = last_report = time.monotonic()
        stream = iter(documents)
        while batch := list(islice(stream, batch_size)):
            seen += len(batch)
            kept: list[tuple[str, str]] = []
            for doc in batch:
                if not doc.text:
                    empty += 1
                    continue
                split = assigner.assign(doc.text)
                if split is not None:
                    kept.append((split, doc.text))
            if not kept:
                continue
            encodings = _encode_plain(tokenizer, [text for _, text in kept])
            for (name, _), enc in zip(kept, encodings, strict=True):
                ids = np.asarray([*enc.ids, eos], dtype=np.int64)
                if ids.min() < 0 or ids.max() >= vocab_size:
                    raise CodexError(f"tokenizer produced id {int(ids.max())} outside its vocab_size "
                                     f"{vocab_size}; the token cache cannot store it")
                writers[name].write(ids)
                writers[name].documents += 1
            if progress:
                last_report = _report_progress(seen, sum(w.tokens for w in writers.values()), started,
                                               last_report)
        if progress and sys.stderr.isatty() and last_report > started:
            sys.stderr.write("\n")  # end the status line drawn in place
        splits = {name: w.finish() for name, w in writers.items()}
        overlap = assigner.overlap()
        if any(overlap.values()):  # impossible by construction; a guard for the contract
            raise CodexError(f"documents shared between splits: {overlap}")
        manifest = CacheManifest(
            sources=key["sources"], tokenizer_fingerprint=key["tokenizer_fingerprint"],
            vocab_size=vocab_size, eos_id=int(eos), filter_fingerprint=filter_fingerprint,
            filter_counts={k: int(v) for k, v in (filter_counts or {}).items()},
            split_ratios=key["split_ratios"], seed=int(seed), dtype=dtype.name,
            counts={"documents_seen": seen, "duplicates": assigner.duplicates, "empty": empty,
                    "shared_between_splits": sum(overlap.values())},
            splits=splits, codex_core_version=core_version,
            created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        atomic_write_json(tmp / MANIFEST, seal(manifest.to_dict()))
    log.info("token cache %s: %s", out_dir, ", ".join(
        f"{n} {s.documents} docs / {s.tokens} tokens" for n, s in splits.items()))
    return manifest


def _report_progress(documents: int, tokens: int, started: float, last: float) -> float:
    """A status line on standard error: redrawn in place on a terminal (at most 5 times a
    second), a plain line every 10 seconds in pipes and CI. Returns the time of this report."""
    now = time.monotonic()
    terminal = sys.stderr.isatty()
    if now - last < (0.2 if terminal else 10.0):
        return last
    rate = tokens / max(now - started, 1e-9)
    line = f"token cache: {documents} documents, {tokens} tokens, {rate:,.0f} tokens/s"
    sys.stderr.write(f"\r{line}\x1b[K" if terminal else f"{line}\n")
    sys.stderr.flush()
    return now


def _encode_plain(tokenizer: Any, texts: list[str]) -> list[Any]:
    """Encode without the post-processor's special tokens where the tokenizer offers the
    switch (the cache puts exactly one eos between documents itself)."""
    try:
        return list(tokenizer.encode_batch(texts, add_special_tokens=False))
    except TypeError:  # a protocol-minimal tokenizer: encode_batch(texts) only
        return list(tokenizer.encode_batch(texts))


class ConcatArray:
    """Several 1-D arrays (one split's shards) read as one: ``len`` and contiguous slices."""

    def __init__(self, parts: Sequence[np.ndarray[Any, Any]]) -> None:
        self.parts = list(parts)
        self.dtype = parts[0].dtype
        self._starts = np.cumsum([0] + [len(p) for p in parts])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index: slice) -> np.ndarray[Any, Any]:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("ConcatArray supports contiguous slices only")
        start, stop, _ = index.indices(len(self))
        if stop <= start:
            return np.zeros(0, self.dtype)
        first = int(np.searchsorted(self._starts, start, side="right")) - 1
        pieces = []
        while start < stop:
            base = int(self._starts[first])
            end = min(stop, int(self._starts[first + 1]))
            pieces.append(self.parts[first][start - base:end - base])
            start, first = end, first + 1
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _check_shard(directory: Path, shard: ShardInfo, itemsize: int, *, hash_it: bool) -> None:
    """:class:`CorruptCacheError` naming the shard when it is missing, of the wrong size or
    (``hash_it``) of another sha256 than the manifest records."""
    path = directory / shard.file
    size = path.stat().st_size if path.exists() else None
    if size != shard.tokens * itemsize:
        raise CorruptCacheError(f"token cache shard {path} is missing or has the wrong size "
                                f"({size} bytes, expected {shard.tokens * itemsize})", hint=REBUILD)
    if hash_it and sha256_file(path) != shard.sha256:
        raise CorruptCacheError(f"token cache shard {path} is corrupt (sha256 mismatch)", hint=REBUILD)


@dataclass
class TokenCache:
    """A loaded token cache. ``split(name)`` is that split's token stream: an ``np.memmap``
    (one shard), a :class:`ConcatArray` over memmaps (several) or an empty array (none).
    Each shard is hashed the first time it is mapped unless it is in ``verified`` (the
    shards :func:`load_cache` hashed, or a fresh build wrote)."""

    path: Path
    manifest: CacheManifest
    built: bool = False
    verified: set[str] = field(default_factory=set, repr=False)
    _arrays: dict[str, Any] = field(default_factory=dict, repr=False)

    def split(self, name: str) -> Any:
        """The split's tokens; :class:`CorruptCacheError` naming a shard that does not hash
        as the manifest says (checked once, before it is first read)."""
        if name not in self.manifest.splits:
            raise CodexError(f"token cache {self.path} has no split {name!r}",
                             hint=f"choose one of {sorted(self.manifest.splits)}")
        if name not in self._arrays:
            info, dtype = self.manifest.splits[name], np.dtype(self.manifest.dtype).newbyteorder("<")
            for shard in info.shards:
                if shard.file not in self.verified:
                    _check_shard(self.path, shard, dtype.itemsize, hash_it=True)
                    self.verified.add(shard.file)
            maps = [np.memmap(self.path / s.file, dtype=dtype, mode="r") for s in info.shards]
            self._arrays[name] = (np.zeros(0, dtype) if not maps else maps[0] if len(maps) == 1
                                  else ConcatArray(maps))
        return self._arrays[name]

    def tokens(self, name: str) -> int:
        return self.manifest.splits[name].tokens


def load_cache(directory: str | Path, expect: Mapping[str, Any] | None = None, *,
               verify: bool = False) -> TokenCache:
    """Open the token cache at ``directory``. Raises :class:`CodexError` when it is missing,
    of another format version or built from other inputs than ``expect`` (a dict from
    :func:`cache_key`, or a subset of it), and :class:`CorruptCacheError` when it is damaged:
    the manifest unreadable or not matching its own sha256, a shard missing, of the wrong
    size or (with ``verify=True``) of the wrong sha256. Shards not hashed here are hashed by
    :meth:`TokenCache.split` when first mapped."""
    directory = Path(directory)
    try:
        raw = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        if directory.is_dir() and any(directory.iterdir()):  # caches are renamed into place whole
            raise CorruptCacheError(f"token cache {directory} has no {MANIFEST} (damaged or not a cache)",
                                    hint=REBUILD) from None
        raise CodexError(f"{directory} is not a token cache (no {MANIFEST})", hint=REBUILD) from None
    except ValueError as exc:  # a UnicodeDecodeError too
        raise CorruptCacheError(f"token cache manifest {directory / MANIFEST} is not valid JSON: {exc}",
                                hint=REBUILD) from None
    if not isinstance(raw, dict) or not seal_matches(raw):
        raise CorruptCacheError(f"token cache manifest {directory / MANIFEST} is corrupt (it does not match "
                                "its own sha256)", hint=REBUILD)
    if raw.get("format") != FORMAT or raw.get("format_version") != FORMAT_VERSION:
        raise CodexError(f"token cache {directory} has format {raw.get('format')!r} version "
                         f"{raw.get('format_version')!r}; this codex-data reads {FORMAT!r} "
                         f"version {FORMAT_VERSION}", hint=REBUILD)
    try:
        manifest = CacheManifest.from_dict(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptCacheError(f"token cache manifest {directory / MANIFEST} is malformed: {exc}",
                                hint=REBUILD) from None
    if expect:
        unknown = set(expect) - set(KEY_FIELDS)
        if unknown:
            raise ValueError(f"unknown expect key(s) {sorted(unknown)}; use {list(KEY_FIELDS)}")
        have = manifest.key()
        differ = [name for name in expect if have[name] != expect[name]]
        if differ:
            raise CodexError(f"token cache {directory} was built from other inputs: "
                             f"{', '.join(differ)} differ", hint=REBUILD)
    itemsize = np.dtype(manifest.dtype).itemsize
    shards = [shard for info in manifest.splits.values() for shard in info.shards]
    for shard in shards:
        _check_shard(directory, shard, itemsize, hash_it=verify)
    return TokenCache(directory, manifest, verified={s.file for s in shards} if verify else set())


def ensure_cache(
    documents: Iterable[Document],
    tokenizer: Any,
    out_dir: str | Path,
    *,
    ratios: Any,
    seed: int,
    sources: list[dict[str, str]],
    filter_fingerprint: str,
    filter_counts: Mapping[str, int] | None = None,
    batch_size: int = 256,
    shard_tokens: int = SHARD_TOKENS,
    progress: bool = False,
    verify: bool = True,
) -> TokenCache:
    """The cache at ``out_dir`` when its manifest matches these inputs and (``verify``) every
    shard hashes as the manifest records (``documents`` is then not read), else a freshly
    built one (``TokenCache.built`` is True). A damaged cache (:class:`CorruptCacheError`) is
    rebuilt with a warning naming the file, so a run never trains on bad data; with
    ``verify=False`` only sizes are checked here and ``split`` hashes each shard when it
    first maps it (a bad one is then an error naming it).

    Build on one process (rank 0) and load on the others after a barrier. Processes that
    are not one run's ranks (two runs started at once) take turns through a lock file next
    to the cache: the second waits, then reuses what the first built."""
    from codex_core.fsutil import FileLock

    out_dir = Path(out_dir)
    expect = cache_key(sources=sources, tokenizer_fingerprint=tokenizer.fingerprint(),
                       filter_fingerprint=filter_fingerprint, ratios=ratios, seed=seed)

    def waiting(holder: str) -> None:
        log.info("token cache %s: waiting for %s, which is building or checking it", out_dir, holder)

    with FileLock(out_dir.with_name(f".{out_dir.name}.lock"), what="token cache", wait=waiting):
        try:
            cache = load_cache(out_dir, expect, verify=verify)
        except CorruptCacheError as exc:
            log.warning("token cache %s is damaged, rebuilding it: %s", out_dir, exc.message)
        except CodexError as exc:
            log.info("token cache %s: building (%s)", out_dir, exc.message)
        else:
            log.info("token cache %s: reused", out_dir)
            return cache
        remove_temporaries(out_dir.parent, out_dir.name)  # what builds killed midway left (we hold the lock)
        build_cache(documents, tokenizer, out_dir, ratios=ratios, seed=seed, sources=sources,
                    filter_fingerprint=filter_fingerprint, filter_counts=filter_counts,
                    batch_size=batch_size, shard_tokens=shard_tokens, progress=progress)
        cache = load_cache(out_dir, expect)
    cache.built = True
    cache.verified = {s.file for info in cache.manifest.splits.values() for s in info.shards}  # hashed as written
    return cache
