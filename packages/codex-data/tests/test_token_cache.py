from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codex_core.errors import CodexError
from codex_core.fsutil import FileLock
from codex_core.protocols import Document, Encoding, Tokenizer
from codex_core.testing import damage_file
from codex_data.token_cache import build_cache, cache_key, ensure_cache, load_cache


class ByteTokenizer:
    """A real (if simple) tokenizer: one id per UTF-8 byte (byte + 3); 0 pad, 1 bos, 2 eos."""

    def __init__(self, eos: bool = True, lowercase: bool = False, vocab_size: int = 259) -> None:
        self.lowercase = lowercase
        self._vocab_size = vocab_size
        self._special = {"pad": 0, "bos": 1, **({"eos": 2} if eos else {})}

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def special_tokens(self) -> Mapping[str, int]:
        return self._special

    def encode(self, text: str) -> Encoding:
        text = text.lower() if self.lowercase else text
        return Encoding(ids=[b + 3 for b in text.encode("utf-8")])

    def encode_batch(self, texts: Sequence[str]) -> list[Encoding]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return bytes(i - 3 for i in ids if i >= 3).decode("utf-8", "replace")

    def decode_batch(self, batch: Sequence[Sequence[int]], skip_special_tokens: bool = False) -> list[str]:
        return [self.decode(ids) for ids in batch]

    def fingerprint(self) -> str:
        settings = {"kind": "bytes", "lowercase": self.lowercase, "special": self._special}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()

    def save(self, directory: str | Path) -> Path:
        raise NotImplementedError


TEXTS = [f"document {i}: " + "lorem ipsum " * (i % 7) for i in range(200)]
SOURCES = [{"uri": "file:///corpus", "sha256": "a" * 64}]
RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}


def documents(texts: list[str] = TEXTS) -> Iterator[Document]:
    for i, text in enumerate(texts):
        yield Document(id=str(i), text=text)


def inputs(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"ratios": RATIOS, "seed": 7, "sources": SOURCES,
                            "filter_fingerprint": "policy-1", "filter_counts": {"redacted": 3}}
    return {**args, **changes}


def build(out: Path, texts: list[str] = TEXTS, **changes: Any) -> Any:
    return build_cache(documents(texts), ByteTokenizer(), out, **inputs(**changes))


def test_the_byte_tokenizer_implements_the_protocol() -> None:
    assert isinstance(ByteTokenizer(), Tokenizer)


def documents_in(stream: Any) -> list[str]:
    """The texts of a token stream: the runs of ids between eos ids, decoded."""
    ids = np.asarray(stream).tolist()
    texts, current = [], []
    for i in ids:
        if i == 2:
            texts.append(ByteTokenizer().decode(current))
            current = []
        else:
            current.append(i)
    assert not current, "the stream must end with eos"
    return texts


def test_a_cache_holds_every_document_followed_by_eos(tmp_path: Path) -> None:
    build(tmp_path / "cache")

    cache = load_cache(tmp_path / "cache")

    found = [t for name in ("train", "val", "test") for t in documents_in(cache.split(name))]
    assert sorted(found) == sorted(TEXTS)


def test_the_manifest_records_inputs_counts_and_shards(tmp_path: Path) -> None:
    build(tmp_path / "cache", texts=[*TEXTS, TEXTS[0], TEXTS[1], ""])

    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())

    assert manifest["format"] == "codex-token-cache" and manifest["format_version"] == 1
    assert manifest["sources"] == SOURCES
    assert manifest["tokenizer_fingerprint"] == ByteTokenizer().fingerprint()
    assert manifest["filter_fingerprint"] == "policy-1"
    assert manifest["filter_counts"] == {"redacted": 3}
    assert manifest["split_ratios"] == RATIOS and manifest["seed"] == 7
    assert manifest["dtype"] == "uint16"
    assert manifest["counts"] == {"documents_seen": 203, "duplicates": 2, "empty": 1,
                                  "shared_between_splits": 0}
    shard = manifest["splits"]["train"]["shards"][0]
    data = (tmp_path / "cache" / shard["file"]).read_bytes()
    assert shard["file"] == "train-00000.bin"
    assert hashlib.sha256(data).hexdigest() == shard["sha256"]
    assert len(data) == 2 * shard["tokens"] == 2 * manifest["splits"]["train"]["tokens"]


def test_large_vocabularies_use_uint32(tmp_path: Path) -> None:
    build_cache(documents(), ByteTokenizer(vocab_size=70_000), tmp_path / "cache", **inputs())

    assert load_cache(tmp_path / "cache").split("train").dtype == np.uint32


def test_shards_roll_over_at_the_size_limit_and_read_as_one_stream(tmp_path: Path) -> None:
    build(tmp_path / "one")
    build_cache(documents(), ByteTokenizer(), tmp_path / "many", shard_tokens=1000, **inputs())

    one, many = load_cache(tmp_path / "one"), load_cache(tmp_path / "many")

    shards = many.manifest.splits["train"].shards
    assert len(shards) > 3 and all(s.tokens == 1000 for s in shards[:-1])
    n = len(one.split("train"))
    assert len(many.split("train")) == n
    assert np.array_equal(many.split("train")[990:2010], one.split("train")[990:2010])
    assert np.array_equal(many.split("train")[0:n], np.asarray(one.split("train")))


def test_a_tokenizer_without_eos_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match="no eos token"):
        build_cache(documents(), ByteTokenizer(eos=False), tmp_path / "cache", **inputs())
    assert not (tmp_path / "cache").exists()


def test_a_failed_build_leaves_the_old_cache_and_no_temp_folder(tmp_path: Path) -> None:
    build(tmp_path / "cache")
    before = (tmp_path / "cache" / "manifest.json").read_bytes()

    def broken() -> Iterator[Document]:
        yield Document("0", "fine")
        raise RuntimeError("the dataset broke")

    with pytest.raises(RuntimeError):
        build_cache(broken(), ByteTokenizer(), tmp_path / "cache", batch_size=1, **inputs(seed=8))

    assert (tmp_path / "cache" / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_a_build_writes_into_a_hidden_sibling_and_the_cache_gets_the_usual_mode(tmp_path: Path) -> None:
    build(tmp_path / "cache")
    seen: list[str] = []

    def watched() -> Iterator[Document]:
        seen.extend(sorted(p.name for p in tmp_path.iterdir()))  # while the new cache is written
        yield from documents()

    build_cache(watched(), ByteTokenizer(), tmp_path / "cache", **inputs(seed=8))

    umask = os.umask(0o022)
    os.umask(umask)
    assert seen[1] == "cache" and re.fullmatch(rf"\.cache\.tmp-{os.getpid()}-[0-9a-f]+", seen[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o777 & ~umask


def test_a_corrupt_shard_is_named_when_verifying(tmp_path: Path) -> None:
    build(tmp_path / "cache")
    shard = tmp_path / "cache" / "val-00000.bin"
    data = bytearray(shard.read_bytes())
    data[0] ^= 0xFF
    shard.write_bytes(bytes(data))

    load_cache(tmp_path / "cache")  # same size: only re-hashing notices
    with pytest.raises(CodexError, match=re.escape("val-00000.bin is corrupt")):
        load_cache(tmp_path / "cache", verify=True)


def test_a_truncated_shard_is_refused_without_verifying(tmp_path: Path) -> None:
    build(tmp_path / "cache")
    shard = tmp_path / "cache" / "train-00000.bin"
    shard.write_bytes(shard.read_bytes()[:-2])

    with pytest.raises(CodexError, match=re.escape("train-00000.bin is missing or has the wrong size")):
        load_cache(tmp_path / "cache")


def test_loading_with_other_expected_inputs_names_them(tmp_path: Path) -> None:
    build(tmp_path / "cache")
    expect = cache_key(sources=SOURCES, tokenizer_fingerprint="other", filter_fingerprint="policy-1",
                       ratios=RATIOS, seed=8)

    with pytest.raises(CodexError, match="tokenizer_fingerprint, seed differ"):
        load_cache(tmp_path / "cache", expect)


def test_a_folder_without_manifest_is_not_a_cache(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match="not a token cache"):
        load_cache(tmp_path)


# -- ensure_cache: reuse when the inputs match, rebuild when any of them changes ---------------
def ensure(out: Path, tokenizer: Any = None, **changes: Any) -> Any:
    return ensure_cache(documents(), tokenizer or ByteTokenizer(), out, **inputs(**changes))


def stamp(out: Path) -> tuple[int, int]:
    stat = (out / "manifest.json").stat()
    return stat.st_ino, stat.st_mtime_ns


def test_ensure_reuses_a_matching_cache_without_reading_documents(tmp_path: Path) -> None:
    assert ensure(tmp_path / "c").built
    before = stamp(tmp_path / "c")

    def unread() -> Iterator[Document]:
        raise AssertionError("documents were read")
        yield  # pragma: no cover

    cache = ensure_cache(unread(), ByteTokenizer(), tmp_path / "c", **inputs())

    assert not cache.built and stamp(tmp_path / "c") == before


def test_two_builders_at_once_take_turns_one_builds_the_other_reuses(tmp_path: Path, caplog: Any) -> None:
    # Two runs started together want the same cache: the second waits for the first's lock
    # and then reuses the cache instead of building and replacing it under the first's feet.
    caplog.set_level(logging.INFO, logger="codex")
    results: dict[str, Any] = {}

    def run(name: str) -> None:
        results[name] = ensure(tmp_path / "c")

    with FileLock(tmp_path / ".c.lock"):  # held here until both builders wait for it
        threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while sum("waiting for pid" in r.getMessage() for r in caplog.records) < 2:
            assert time.monotonic() < deadline, "the builders did not wait for the lock"
            time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(cache.built for cache in results.values()) == [False, True]
    assert sum(": building (" in r.getMessage() for r in caplog.records) == 1
    assert load_cache(tmp_path / "c", verify=True).manifest.counts["documents_seen"] == len(TEXTS)


def test_ensure_rebuilds_when_the_sources_change(tmp_path: Path) -> None:
    ensure(tmp_path / "c")
    before = stamp(tmp_path / "c")

    cache = ensure(tmp_path / "c", sources=[{"uri": "file:///corpus", "sha256": "b" * 64}])

    assert cache.built and stamp(tmp_path / "c") != before


def test_ensure_rebuilds_when_the_tokenizer_changes(tmp_path: Path) -> None:
    ensure(tmp_path / "c")

    cache = ensure(tmp_path / "c", tokenizer=ByteTokenizer(lowercase=True))

    assert cache.built and cache.manifest.tokenizer_fingerprint == ByteTokenizer(lowercase=True).fingerprint()


def test_ensure_rebuilds_when_the_filter_policy_changes(tmp_path: Path) -> None:
    ensure(tmp_path / "c")

    cache = ensure(tmp_path / "c", filter_fingerprint="policy-2")

    assert cache.built and cache.manifest.filter_fingerprint == "policy-2"


@pytest.mark.parametrize("change", [{"seed": 8}, {"ratios": {"train": 0.5, "val": 0.5, "test": 0.0}}])
def test_ensure_rebuilds_when_the_split_changes(tmp_path: Path, change: dict[str, Any]) -> None:
    ensure(tmp_path / "c")
    before = stamp(tmp_path / "c")

    cache = ensure(tmp_path / "c", **change)

    assert cache.built and stamp(tmp_path / "c") != before


def test_ensure_rebuilds_a_damaged_cache(tmp_path: Path) -> None:
    ensure(tmp_path / "c")
    (tmp_path / "c" / "train-00000.bin").unlink()

    assert ensure(tmp_path / "c").built


def test_a_build_removes_what_builds_killed_midway_left(tmp_path: Path) -> None:
    """A builder SIGKILLed while writing leaves its hidden temporary folder; the next build of
    that cache (under the lock) removes it, and leaves other caches' temporaries alone."""
    left = tmp_path / ".c.tmp-123-abcd"
    other = tmp_path / ".d.tmp-123-abcd"
    for folder in (left, other):
        folder.mkdir()
        (folder / "train-00000.bin").write_bytes(b"\0" * 8)

    assert ensure(tmp_path / "c").built
    assert not left.exists() and other.exists()


# -- damage: every file of a cache, truncated, with a byte flipped, deleted --------------------
def damage(path: Path, how: str) -> None:
    """``codex_core.testing.damage_file``; ``edit`` (the manifest) changes a count and keeps valid JSON."""
    damage_file(path, how, edit=lambda manifest: manifest["counts"].update(empty=manifest["counts"]["empty"] + 1))


DAMAGE = [(file, how) for file in ("train-00000.bin", "val-00000.bin", "manifest.json")
          for how in ("truncate", "flip", "delete")] + [("manifest.json", "edit")]


def content(cache: Path) -> dict[str, Any]:
    """What a cache holds, without its provenance (``created_at``) and the manifest's seal."""
    manifest = json.loads((cache / "manifest.json").read_text())
    shards = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(cache.glob("*.bin"))}
    return {"shards": shards, "manifest": {k: v for k, v in manifest.items()
                                           if k not in ("created_at", "manifest_sha256")}}


@pytest.mark.parametrize(("file", "how"), DAMAGE)
def test_a_damaged_file_is_named_when_verifying(tmp_path: Path, file: str, how: str) -> None:
    from codex_data.token_cache import CorruptCacheError

    build(tmp_path / "c")
    damage(tmp_path / "c" / file, how)

    with pytest.raises(CorruptCacheError, match=re.escape(file)):
        load_cache(tmp_path / "c", verify=True)


@pytest.mark.parametrize(("file", "how"), DAMAGE)
def test_ensure_rebuilds_a_damaged_cache_naming_the_file(tmp_path: Path, caplog: Any, file: str,
                                                        how: str) -> None:
    ensure(tmp_path / "fresh")
    ensure(tmp_path / "c")
    damage(tmp_path / "c" / file, how)
    caplog.set_level(logging.INFO, logger="codex")

    cache = ensure(tmp_path / "c")

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert cache.built and len(warnings) == 1 and file in warnings[0] and "rebuilding" in warnings[0]
    assert content(tmp_path / "c") == content(tmp_path / "fresh")
    load_cache(tmp_path / "c", verify=True)


@pytest.mark.parametrize("split", ["train", "val"])
def test_a_shard_is_hashed_before_it_is_first_read(tmp_path: Path, split: str) -> None:
    # Loading checks sizes only; the flipped byte is found when the split is first mapped.
    from codex_data.token_cache import CorruptCacheError

    build(tmp_path / "c")
    cache = load_cache(tmp_path / "c")
    damage(tmp_path / "c" / f"{split}-00000.bin", "flip")

    with pytest.raises(CorruptCacheError, match=re.escape(f"{split}-00000.bin is corrupt")) as raised:
        cache.split(split)
    assert "codex data prepare" in (raised.value.hint or "")
    assert len(cache.split("test")) == cache.tokens("test")  # the intact split still reads


def test_a_shard_is_hashed_once(tmp_path: Path) -> None:
    build(tmp_path / "c")
    cache = load_cache(tmp_path / "c")
    first = cache.split("train")
    damage(tmp_path / "c" / "val-00000.bin", "flip")

    assert "train-00000.bin" in cache.verified and cache.split("train") is first
    assert not load_cache(tmp_path / "c", verify=False).verified
    assert load_cache(tmp_path / "c", verify=False).split("train").tolist() == first.tolist()


def test_ensure_hashes_on_reuse_and_a_fresh_build_counts_as_verified(tmp_path: Path) -> None:
    built = ensure(tmp_path / "c")
    reused = ensure(tmp_path / "c")
    damage(tmp_path / "c" / "val-00000.bin", "flip")
    lazy = ensure_cache(documents(), ByteTokenizer(), tmp_path / "c", **inputs(), verify=False)

    every = {f"{s}-00000.bin" for s in ("train", "val", "test")}
    assert built.built and built.verified == every
    assert not reused.built and reused.verified == every
    assert not lazy.built and not lazy.verified  # verify=False: hashed when split() maps them


def test_a_manifest_written_before_the_seal_still_loads(tmp_path: Path) -> None:
    build(tmp_path / "c")
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    del manifest["manifest_sha256"]
    (tmp_path / "c" / "manifest.json").write_text(json.dumps(manifest))

    assert load_cache(tmp_path / "c", verify=True).manifest.counts["documents_seen"] == len(TEXTS)
