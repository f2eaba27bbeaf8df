"""`codex plugins new` makes a plugin that works: scaffolded with every kind by the full venv's
codex, pip-installed, listed ok, its components used together in a short `codex train` (its
tokenizer, its dataset through its connector, its model, metric and logger), its task in
`codex eval`, its command run, and its own tests green; then uninstalled, leaving the venv as
it was."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONFIG = """\
run: {seed: 3}
tokenizer: shapes-bytes
data: {name: shapes-lines, params: {source: corpus}, split: {train: 0.8, val: 0.2, test: 0.0}}
model: {name: shapes-tiny-gpt, params: {n_layer: 1, n_head: 2, n_embd: 32, context_length: 64}}
metrics: [shapes-match]
loggers: [shapes-jsonl]
trainer: {max_steps: 6, seq_len: 32, micro_batch_size: 8, warmup_steps: 1, eval_every: 3, eval_batches: 1,
          checkpoint_every: 6, log_every: 1, device: cpu}
telemetry: {system_metrics: false}
"""
KINDS = ["tokenizer", "model", "dataset", "connector", "metric", "logger", "task"]


def freeze(venv) -> list[str]:
    done = venv.run(venv.python, "-m", "pip", "freeze", "--all")
    assert done.returncode == 0, done.stderr
    return sorted(done.stdout.splitlines())


def write_corpus(folder: Path) -> None:
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "log", "ab", "abc", "xyz", "hey"]
    rng = random.Random(0)
    folder.mkdir()
    for i in range(6):
        lines = (" ".join(rng.choice(words) for _ in range(12)) for _ in range(60))
        (folder / f"doc{i}.txt").write_text("\n".join(lines) + "\n")
    (folder / "skipped.csv").write_text("not,a,text,file\n")  # the connector takes .txt and .md only


def test_a_scaffolded_plugin_of_every_kind_installs_trains_evaluates_and_passes_its_own_tests(
        full_venv, dist_dir, tmp_path):
    before = freeze(full_venv)
    made = full_venv.codex("plugins", "new", "codex-shapes", "--kind", "all", "-o", tmp_path, "--json")
    assert made.returncode == 0, made.stderr
    plugin_dir = Path(json.loads(made.stdout)["path"])
    # `codex eval` reads a checkpoint's tokenizer.json with codex-tokenizers' tokenizer-json.
    tokenizers_wheel = next(dist_dir.glob("codex_tokenizers-*.whl"))
    report = full_venv.pip_install(f"{plugin_dir}[test]", tokenizers_wheel)
    added = sorted(item["metadata"]["name"] for item in report["install"])
    try:
        assert "codex-shapes" in added, added
        listed = full_venv.codex("plugins", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        plugin = next(p for p in json.loads(listed.stdout) if p["name"] == "shapes")
        assert (plugin["distribution"], plugin["version"], plugin["status"], plugin["warnings"]) == (
            "codex-shapes", "0.1.0", "ok", [])
        assert sorted(plugin["components"]) == sorted(KINDS)

        write_corpus(tmp_path / "corpus")
        (tmp_path / "run.yaml").write_text(CONFIG)
        env = {"CODEX_RUNS_DIR": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}
        trained = full_venv.codex("train", "-c", "run.yaml", cwd=tmp_path, env=env, timeout=600)
        assert trained.returncode == 0, trained.stderr[-3000:]
        evaluated = full_venv.codex("eval", "--run", "latest", "--task", "shapes-continue", "--bootstrap", "50",
                                    "--json", cwd=tmp_path, env=env, timeout=600)
        assert evaluated.returncode == 0, evaluated.stderr[-3000:]
        command = full_venv.codex("shapes", "components", "--json")
        own_tests = full_venv.run("pytest", "-p", "no:cacheprovider", "-q", cwd=plugin_dir, timeout=600)
    finally:
        removed = full_venv.run(full_venv.python, "-m", "pip", "uninstall", "-y", *added)
        assert removed.returncode == 0, removed.stderr
    assert freeze(full_venv) == before

    run_dir = next((tmp_path / "runs").iterdir())
    rows = [json.loads(line) for line in (run_dir / "metrics.ndjson").read_text().splitlines()]
    assert any("val/match" in row["metrics"] for row in rows), rows[-1]  # its metric, on the validation batches
    logged = [json.loads(line) for line in (run_dir / "shapes-metrics.jsonl").read_text().splitlines()]
    assert logged[0]["params"]["tokenizer"]["name"] == "shapes-bytes"
    assert [r["step"] for r in logged if "train/loss" in r.get("metrics", {})] == [1, 2, 3, 4, 5, 6]
    assert {"eval/shapes-continue/exact"} <= set(logged[-1]["metrics"])  # codex eval logs to the run's loggers
    sources = json.dumps(json.loads((run_dir / "manifest.json").read_text())["data"])
    assert "corpus/doc0.txt" in sources and "skipped.csv" not in sources  # what the connector located

    result = json.loads(evaluated.stdout)
    assert result["samples"] == {"shapes-continue": 8}
    assert 0.0 <= result["results"]["shapes-continue"]["exact"] <= 1.0

    assert command.returncode == 0, command.stderr
    assert [row["kind"] for row in json.loads(command.stdout)] == KINDS

    summary = own_tests.stdout.strip().splitlines()[-1]
    assert own_tests.returncode == 0, own_tests.stdout[-4000:] + own_tests.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary and "failed" not in summary, summary
