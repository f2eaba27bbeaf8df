"""``codex data`` run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys


def codex_data(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codex_core", "data", *args], capture_output=True, text=True,
                          timeout=120)


def test_list_json_names_the_installed_datasets_and_connectors():
    rows = json.loads(codex_data("list", "--json").stdout)

    names = {(r["kind"], r["name"]) for r in rows}
    assert {("dataset", "text"), ("dataset", "stdlib-code"), ("connector", "file")} <= names
    assert all(r["plugin"] for r in rows)


def test_prepare_reuse_inspect_and_verify(tmp_path):
    from codex_tokenizers.training import train

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(40):
        (corpus / f"m{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n")
    (corpus / "secret.py").write_text('TOKEN = "ghp_' + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8" + '"\n')
    tok = tmp_path / "tok.json"
    train("bpe", vocab_size=300, texts=[p.read_text() for p in corpus.iterdir()] * 3, output=tok)
    args = ("prepare", "--dataset", "text", "--dataset-param", f"paths=[{corpus}]", "--tokenizer", str(tok),
            "-o", str(tmp_path / "cache"), "--json")

    first = json.loads(codex_data(*args).stdout)
    second = json.loads(codex_data(*args).stdout)
    inspected = json.loads(codex_data("inspect", str(tmp_path / "cache"), "--tokenizer", str(tok), "--json").stdout)
    ok = codex_data("verify", str(tmp_path / "cache"))
    from codex_data import load_cache
    from codex_tokenizers import load

    cache = load_cache(tmp_path / "cache")
    text = load(tok).decode([int(t) for s in ("train", "val", "test") for t in cache.split(s)])
    shard = next((tmp_path / "cache").glob("train-*.bin"))
    shard.write_bytes(b"\x00\x00" + shard.read_bytes()[2:])
    bad = codex_data("verify", str(tmp_path / "cache"))

    assert (first["reused"], second["reused"]) == (False, True)
    assert first["splits"]["train"]["documents"] + first["splits"]["val"]["documents"] + \
        first["splits"]["test"]["documents"] == 41
    assert first["filter_counts"]["rule:github-token"] == 1
    assert inspected["samples"]["train"] and inspected["splits"] == first["splits"]
    assert "[REDACTED:github-token]" in text and "ghp_" not in text
    assert ok.returncode == 0
    assert bad.returncode == 1 and shard.name in bad.stderr


def test_prepare_from_a_run_config(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(30):
        (corpus / f"doc{i}.txt").write_text(f"line {i}: the quick brown fox jumps over the lazy dog\n" * 3)
    config = tmp_path / "run.yaml"
    config.write_text(
        "run: {seed: 7}\n"
        f"tokenizer: {{name: bpe, params: {{vocab_size: 300, files: ['{corpus}']}}}}\n"
        f"data: {{name: text, params: {{paths: ['{corpus}']}}, split: {{train: 0.8, val: 0.1, test: 0.1}}}}\n"
        "model: gpt2\n"
    )
    env_home = {"CODEX_HOME": str(tmp_path / "home")}

    result = subprocess.run([sys.executable, "-m", "codex_core", "data", "prepare", "-c", str(config), "--json"],
                            capture_output=True, text=True, timeout=300, env={**__import__("os").environ, **env_home})

    summary = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert sum(s["documents"] for s in summary["splits"].values()) == 30
    assert summary["path"].startswith(str(tmp_path / "home" / "token-caches" / "text-"))


def test_changing_a_dataset_param_rebuilds_a_cache_in_the_same_folder(tmp_path):
    from codex_tokenizers.training import train

    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"title": f"title {i}", "body": f"body text {i} " * 5}) + "\n"
                            for i in range(20)))
    tok = tmp_path / "tok.json"
    train("bpe", vocab_size=280, texts=[rows.read_text()] * 5, output=tok)

    def prepare(field: str) -> dict:
        out = codex_data("prepare", "--dataset", "jsonl", "--dataset-param", f"paths=[{rows}]",
                         "--dataset-param", f"text_field={field}", "--tokenizer", str(tok),
                         "-o", str(tmp_path / "cache"), "--json")
        return json.loads(out.stdout)

    first, same, other = prepare("title"), prepare("title"), prepare("body")

    assert (first["reused"], same["reused"], other["reused"]) == (False, True, False)
