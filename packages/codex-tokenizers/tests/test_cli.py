"""``codex tokenizer`` run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def codex(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codex_core", "tokenizer", *args], capture_output=True, text=True,
                          input=input, env={**os.environ, **(env or {})}, timeout=300)


def test_train_encode_decode_round_trip(tmp_path):
    corpus = tmp_path / "src"
    corpus.mkdir()
    (corpus / "a.py").write_text("import os\n\ndef main():\n    print(os.getcwd())\n" * 30)
    out = tmp_path / "tok.json"

    trained = codex("train", "--vocab-size", "300", "-o", str(out), str(corpus))
    encoded = codex("encode", "-t", str(out), "--json", "-", input="print(os.getcwd())")
    ids = json.loads(encoded.stdout)["ids"]
    decoded = codex("decode", "-t", str(out), *map(str, ids))

    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.startswith(f"wrote {out}: bpe, vocab size ")
    assert decoded.stdout == "print(os.getcwd())\n"


def test_train_from_a_registered_dataset(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("alpha beta gamma delta\n" * 40)
    out = tmp_path / "wp.json"

    result = codex("train", "--kind", "wordpiece", "--vocab-size", "200", "-o", str(out), "--dataset", "text",
                   "--dataset-param", f"paths=[{tmp_path / 'd'}]")

    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["model"]["type"] == "WordPiece"


@pytest.mark.parametrize("backend", ["rust", "python"])
def test_encode_json_is_identical_on_both_engines(trained, backend):
    text = "for key, value in sorted(mapping.items()):  # 日本 👍🏽"

    result = codex("encode", "-t", str(trained["bpe"]), "--backend", backend, "--json", text)
    reference = codex("encode", "-t", str(trained["bpe"]), "--backend", "rust", "--json", text)

    got, want = json.loads(result.stdout), json.loads(reference.stdout)
    assert got["backend"] == backend
    assert {k: got[k] for k in ("ids", "tokens", "offsets")} == {k: want[k] for k in ("ids", "tokens", "offsets")}


def test_inspect_json_describes_the_pipeline(trained):
    info = json.loads(codex("inspect", "-t", str(trained["wordpiece"]), "--json").stdout)

    assert info["model"] == "WordPiece"
    assert info["pipeline"]["pre_tokenizer"] == "BertPreTokenizer"
    assert info["engines"]["python"] == "supported"
    assert {"content": "[CLS]", "id": 2, "special": True} in info["added_tokens"]


@pytest.mark.parametrize(("content", "message"), [
    (None, "not found"),
    ("[1, 2", "is not valid JSON"),
])
def test_bad_files_exit_2_with_one_line(tmp_path, content, message):
    path = tmp_path / "tokenizer.json"
    if content is not None:
        path.write_text(content)

    result = codex("encode", "-t", str(path), "hello")

    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_unsupported_component_is_named_by_the_python_engine(trained, tmp_path):
    spec = json.loads(trained["bpe"].read_text())
    spec["decoder"] = {"type": "CTC", "pad_token": "<pad>", "word_delimiter_token": "|", "cleanup": True}
    path = tmp_path / "ctc.json"
    path.write_text(json.dumps(spec))

    result = codex("encode", "-t", str(path), "--backend", "python", "hello")

    assert result.returncode == 2
    assert "does not support decoder 'CTC'" in result.stderr


def test_decode_rejects_an_id_outside_the_vocabulary(trained):
    result = codex("decode", "-t", str(trained["bpe"]), "999999")

    assert result.returncode == 2 and "id 999999 is outside the vocabulary" in result.stderr
