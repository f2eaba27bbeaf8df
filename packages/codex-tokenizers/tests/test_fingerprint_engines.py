"""The tokenizer fingerprint keys token caches, so it names the tokenizer, not the engine:
the same tokenizer.json has one fingerprint on the rust and the python engine, and any
change to the tokenizer gives another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codex_core.context import BuildContext
from codex_tokenizers import load
from codex_tokenizers.training import train

TEXTS = [
    "def add(a, b):\n    return a + b\n",
    "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n",
    "for i in range(10):\n    print(i, i * i)  # squares\n",
    "The quick brown fox jumps over the lazy dog.\n",
] * 20
ENGINES = ("rust", "python")


@pytest.fixture
def bpe(tmp_path: Path) -> Path:
    """A byte-level BPE trained by the library in this test."""
    path = tmp_path / "bpe" / "tokenizer.json"
    path.parent.mkdir()
    train("bpe", vocab_size=320, texts=TEXTS, output=path)
    return path


def fingerprints(path: Path) -> dict[str, str]:
    return {engine: load(path, backend=engine).fingerprint() for engine in ENGINES}


def test_one_tokenizer_json_has_one_fingerprint_on_both_engines(bpe: Path) -> None:
    rust, python = load(bpe, backend="rust"), load(bpe, backend="python")

    assert (rust.backend, python.backend) == ENGINES
    assert rust.encode(TEXTS[0]).ids == python.encode(TEXTS[0]).ids  # the same tokenizer
    assert python.fingerprint() == rust.fingerprint()


@pytest.mark.parametrize("engine", ENGINES)
def test_the_engine_chosen_by_the_environment_gives_the_same_fingerprint(
    bpe: Path, engine: str, monkeypatch: pytest.MonkeyPatch, codex_installed_registry
) -> None:
    monkeypatch.setenv("CODEX_TOKENIZER_BACKEND", engine)

    tok = BuildContext(registry=codex_installed_registry).build(
        "tokenizer", "tokenizer-json", {"path": str(bpe)}
    )

    assert tok.backend == engine
    assert tok.fingerprint() == load(bpe, backend="rust").fingerprint()


def test_the_same_tokenizer_saved_by_either_engine_keeps_its_fingerprint(bpe: Path, tmp_path: Path) -> None:
    expected = load(bpe, backend="rust").fingerprint()

    saved = {engine: load(bpe, backend=engine).save(tmp_path / engine) for engine in ENGINES}

    assert {e: fingerprints(path) for e, path in saved.items()} == {
        e: {"rust": expected, "python": expected} for e in ENGINES
    }


def test_reformatting_the_file_does_not_change_the_fingerprint(bpe: Path, tmp_path: Path) -> None:
    spec = json.loads(bpe.read_text(encoding="utf-8"))
    reformatted = tmp_path / "reformatted.json"
    reformatted.write_text(json.dumps(dict(reversed(spec.items())), indent=4), encoding="utf-8")

    assert fingerprints(reformatted) == fingerprints(bpe)


def edited(bpe: Path, tmp_path: Path, change: str) -> Path:
    """A copy of ``bpe`` with one change to what the tokenizer does."""
    spec = json.loads(bpe.read_text(encoding="utf-8"))
    if change == "a merge less":
        spec["model"]["merges"] = spec["model"]["merges"][:-1]
    elif change == "two ids swapped":
        vocab = spec["model"]["vocab"]
        a, b = list(vocab)[300:302]
        vocab[a], vocab[b] = vocab[b], vocab[a]
    elif change == "an added token":
        spec["added_tokens"].append(
            {**spec["added_tokens"][-1], "id": len(spec["model"]["vocab"]), "content": "<|sep|>"}
        )
    elif change == "no post-processor":
        spec["post_processor"] = None
    path = tmp_path / f"{change.replace(' ', '-')}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


@pytest.mark.parametrize("change", ["a merge less", "two ids swapped", "an added token", "no post-processor"])
def test_a_changed_tokenizer_has_another_fingerprint_on_both_engines(
    bpe: Path, tmp_path: Path, change: str
) -> None:
    before = fingerprints(bpe)

    after = fingerprints(edited(bpe, tmp_path, change))

    assert after["rust"] == after["python"]
    assert after["rust"] != before["rust"]


def test_a_tokenizer_trained_differently_has_another_fingerprint(bpe: Path, tmp_path: Path) -> None:
    other = train("bpe", vocab_size=300, texts=TEXTS, output=tmp_path / "smaller.json")

    assert fingerprints(tmp_path / "smaller.json") == {
        "rust": other.fingerprint(),
        "python": other.fingerprint(),
    }
    assert other.fingerprint() != fingerprints(bpe)["rust"]


@pytest.mark.parametrize(
    "setting",
    [
        lambda tok: tok.enable_truncation(8),
        lambda tok: tok.enable_padding(length=16),
        lambda tok: (
            tok.enable_truncation(8, stride=2, direction="left"),
            tok.enable_padding(pad_to_multiple_of=4),
        ),
    ],
    ids=["truncation", "padding", "both"],
)
def test_padding_and_truncation_change_the_fingerprint_alike_on_both_engines(bpe: Path, setting) -> None:
    plain = load(bpe, backend="rust").fingerprint()
    tokenizers = {engine: load(bpe, backend=engine) for engine in ENGINES}

    for tok in tokenizers.values():
        setting(tok)

    assert tokenizers["python"].fingerprint() == tokenizers["rust"].fingerprint() != plain
