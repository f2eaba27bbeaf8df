"""The example third-party plugin (examples/codex-word-f1), installed from its wheel, scores a
real evaluation: a run trained in the full venv, then `codex eval` with the plugin's metric."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from install_env import installed_from

pytestmark = pytest.mark.slow

CONFIG = """\
run: {seed: 3}
tokenizer: char
data: {name: text, params: {paths: [corpus]}, split: {train: 0.8, val: 0.2, test: 0.0}}
model: {name: gpt2, params: {n_layer: 1, n_head: 2, n_embd: 32, n_positions: 64}}
trainer: {max_steps: 6, seq_len: 32, micro_batch_size: 8, eval_every: 3, eval_batches: 1, checkpoint_every: 3,
          log_every: 1, device: cpu}
telemetry: {system_metrics: false}
"""


def word_f1(prediction: str, reference: str) -> float:
    """An independent computation of the metric (lowercased words; SQuAD's F1 without its
    punctuation and article rules)."""
    p, r = prediction.lower().split(), reference.lower().split()
    if not p and not r:
        return 1.0
    shared = sum((Counter(p) & Counter(r)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(p), shared / len(r)
    return 2 * precision * recall / (precision + recall)


def test_the_example_plugin_from_its_wheel_scores_an_eval_of_a_trained_run(full_venv, dist_dir, tmp_path):
    wheel = dist_dir / "codex_word_f1-0.1.0-py3-none-any.whl"
    report = full_venv.pip_install(wheel)
    try:
        assert installed_from(report) == {"codex-word-f1": ("0.1.0", wheel.as_uri())}
        listed = json.loads(full_venv.codex("plugins", "list", "--json", "--kind", "metric").stdout)
        plugin = next(p for p in listed if p["name"] == "word-f1")
        assert (plugin["distribution"], plugin["status"], plugin["components"]) == (
            "codex-word-f1", "ok", {"metric": ["word-f1"]})

        corpus = tmp_path / "corpus"
        corpus.mkdir()
        words = ["the", "cat", "sat", "on", "mat", "and", "dog", "log", "a"]
        for i in range(12):  # distinct documents (the split drops duplicates)
            lines = (" ".join(words[(i * 7 + j * k) % len(words)] for k in range(8)) for j in range(30))
            (corpus / f"doc{i}.txt").write_text(f"document {i}\n" + "\n".join(lines) + "\n")
        (tmp_path / "run.yaml").write_text(CONFIG)
        rows = [{"id": f"q{i}", "prompt": "the cat sat on the", "reference": ref}
                for i, ref in enumerate(["mat", "the mat and the dog", "log", "The Mat"])]
        rows.append({"id": "q4", "prompt": "the dog", "references": ["sat on", "log"]})
        (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        env = {"CODEX_RUNS_DIR": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}

        validated = full_venv.codex("config", "validate", "-c", "run.yaml", cwd=tmp_path, env=env)
        assert validated.returncode == 0, validated.stderr
        # A text metric in a run config's metrics: (next-token ids) is refused, naming it.
        (tmp_path / "bad.yaml").write_text(CONFIG + "metrics: [word-f1]\n")
        invalid = full_venv.codex("config", "validate", "-c", "bad.yaml", cwd=tmp_path, env=env)
        assert invalid.returncode == 2 and "metric 'word-f1' scores text" in invalid.stderr, invalid.stderr
        trained = full_venv.codex("train", "-c", "run.yaml", cwd=tmp_path, env=env, timeout=600)
        assert trained.returncode == 0, trained.stderr[-3000:]
        # Its params are validated by its pydantic model, with a did-you-mean.
        (tmp_path / "typo.yaml").write_text("tasks:\n  - name: generation\n    params: {path: qa.jsonl, "
                                            "metrics: [{name: word-f1, params: {lower: true}}]}\n")
        typo = full_venv.codex("eval", "--run", "latest", "-c", "typo.yaml", cwd=tmp_path, env=env)
        assert typo.returncode == 2 and "unknown key 'lower'" in typo.stderr and "'lowercase'" in typo.stderr, typo.stderr
        evaluated = full_venv.codex(
            "eval", "--run", "latest", "--task", "generation:path=qa.jsonl,max_new_tokens=6,stop=[],metrics=[word-f1]",
            "--bootstrap", "0", "--json", "-o", tmp_path / "eval", cwd=tmp_path, env=env, timeout=600)
        assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    finally:
        removed = full_venv.run(full_venv.python, "-m", "pip", "uninstall", "-y", "codex-word-f1")
        assert removed.returncode == 0, removed.stderr

    result = json.loads(evaluated.stdout)
    text = json.dumps(result)
    assert "word_f1" in text, text[:2000]
    samples = [json.loads(line) for line in (tmp_path / "eval" / "generation.samples.ndjson").read_text().splitlines()]
    assert len(samples) == len(rows)
    expected = sum(max(word_f1(s["output"], ref) for ref in s["references"]) for s in samples) / len(samples)
    scores = [v for v in _numbers_named(result, "word_f1")]
    assert scores and all(abs(v - expected) < 1e-9 for v in scores), (scores, expected, samples)


def _numbers_named(tree, key):
    """Every number under ``key`` anywhere in a JSON tree (the metric's value, wherever the
    report nests it: by task label, then metric)."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == key and isinstance(v, (int, float)):
                yield float(v)
            elif k == key and isinstance(v, dict) and isinstance(v.get("value"), (int, float)):
                yield float(v["value"])
            else:
                yield from _numbers_named(v, key)
    elif isinstance(tree, list):
        for v in tree:
            yield from _numbers_named(v, key)
