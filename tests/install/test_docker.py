"""``docker/install.sh``, the install step of the Docker image, shown to work from nothing: its
``train`` target in a fresh venv (the built wheels, the repository's constraints, no PyTorch
index: torch is the constrained CPU build of the configured index), then ``codex plugins list``
and a short ``codex train`` with ``CODEX_HOME`` in a folder of its own, as the image's volume;
then (with ``CODEX_TEST_DOCKER_EVAL=1``) its ``eval`` target added to the same venv and
``codex eval`` on that run.

The tests of this module share the venv and run in file order. On two CPU cores the train
target's install takes about 55 s and the short ``codex train`` about 8 s; the eval step adds
about 80 s more (installing lm-evaluation-harness and its dependencies, then importing them),
so it runs only when asked for. Its packages are installed by ``tox -e py311`` too (the same
extras), and tests/test_dockerfile.py checks that the eval target names them. The image itself
is not built here (no container engine): tests/test_dockerfile.py checks that the Dockerfile
calls this script for each of its targets.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from install_env import PACKAGES, ROOT, Venv, make_venv

pytestmark = pytest.mark.slow
INSTALL_SH = ROOT / "docker" / "install.sh"
VERSION = "1!0.3.0"
FIRST_PARTY = {name for name in PACKAGES if name != "codex-core"}  # core is the host, not a plugin

RUN_CONFIG = """\
run: {name: docker-smoke, seed: 7}
tokenizer: char
data:
  name: text
  params: {paths: [corpus]}
  split: {train: 0.8, val: 0.1, test: 0.1}
model:
  name: gpt2
  params: {n_layer: 1, n_head: 2, n_embd: 32, dropout: 0.0}
loggers: [csv]
telemetry: {system_metrics: false}
trainer:
  max_steps: 4
  seq_len: 32
  micro_batch_size: 4
  warmup_steps: 1
  log_every: 1
  eval_every: 4
  eval_batches: 1
  checkpoint_every: 4
  device: cpu
"""

EVAL_CONFIG = """\
tasks:
  - name: generation
    params: {path: refs.jsonl, max_new_tokens: 4, metrics: [bleu, rouge-l]}
  - name: lm-eval
    params: {tasks: [docker_mc], include_path: tasks}
"""

MC_TASK = """\
task: docker_mc
dataset_path: json
dataset_kwargs: {data_files: {test: tasks/docker_mc.jsonl}}  # relative to the working directory
test_split: test
output_type: multiple_choice
doc_to_text: "{{context}}"
doc_to_choice: "{{choices}}"
doc_to_target: label
target_delimiter: ""
metric_list: [{metric: acc}]
"""


def timed(label: str, timings: dict[str, float], call):
    start = time.monotonic()
    result = call()
    timings[label] = round(time.monotonic() - start, 1)
    return result


@pytest.fixture(scope="module")
def timings() -> dict[str, float]:
    """Wall seconds of each step, printed at the end of the module (pytest -s shows them)."""
    seen: dict[str, float] = {}
    yield seen
    print("\ndocker/install.sh and the image's commands, wall seconds:", json.dumps(seen))


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory, dist_dir: Path, timings: dict[str, float]) -> Venv:
    """A fresh venv after ``docker/install.sh train DIST``, run with this venv first on PATH
    (so the script installs into its ``python``), as the image's RUN step runs it."""
    env = make_venv(tmp_path_factory.mktemp("docker-venv"), dist_dir)
    done = timed("install.sh train", timings, lambda: env.run("bash", INSTALL_SH, "train", dist_dir))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert f"(constraints: {ROOT / 'constraints.txt'})" in done.stdout  # PIP_CONSTRAINT as the caller set it
    return env


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's /workspace: the run config and its data, and ./runs."""
    work = tmp_path_factory.mktemp("workspace")
    (work / "corpus").mkdir()
    for i in range(8):
        (work / "corpus" / f"doc{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 20)
    (work / "run.yaml").write_text(RUN_CONFIG)
    return work


def image_env(venv: Venv) -> dict[str, str]:
    """The image's environment: HF_HOME on the volume too (CODEX_HOME is venv.home; the hub and
    datasets offline flags are set for every command of a test venv)."""
    return {"HF_HOME": str(venv.home / "huggingface")}


def test_the_train_target_installs_every_first_party_plugin_from_the_wheels(image_venv: Venv) -> None:
    listed = image_venv.codex("plugins", "list", "--json")
    probe = image_venv.imports("import codex_core, tokenizers, torch; "
                               "print(codex_core.__version__, hasattr(codex_core, 'STAND_IN'), torch.version.cuda)")

    assert listed.returncode == 0, listed.stderr
    plugins = json.loads(listed.stdout)
    assert {p["distribution"]: (p["version"], p["status"]) for p in plugins} == {
        name: (VERSION, "ok") for name in FIRST_PARTY}
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == [VERSION, "False", "None"]  # ours, not a stand-in; torch's CPU build


def test_a_short_codex_train_in_it_writes_its_run_and_caches_where_the_image_puts_them(
        image_venv: Venv, workspace: Path, timings: dict[str, float]) -> None:
    trained = timed("codex train", timings, lambda: image_venv.codex(
        "train", "-c", "run.yaml", cwd=workspace, env=image_env(image_venv), timeout=300))

    assert trained.returncode == 0, trained.stderr[-3000:]
    run = workspace / "runs" / "docker-smoke"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert [p.name for p in (run / "checkpoints").glob("step-*")] == ["step-00000004"]
    assert any(image_venv.home.iterdir()), "codex train cached nothing under CODEX_HOME"


@pytest.mark.skipif(os.environ.get("CODEX_TEST_DOCKER_EVAL") != "1",
                    reason="about 80 s more: set CODEX_TEST_DOCKER_EVAL=1 to install and run the eval target")
def test_the_eval_target_adds_the_text_metrics_and_lm_eval_and_codex_eval_scores_the_run(
        image_venv: Venv, workspace: Path, dist_dir: Path, timings: dict[str, float]) -> None:
    (workspace / "refs.jsonl").write_text("".join(
        json.dumps({"prompt": f"def f{i}(x):\n    ", "reference": f"return x + {i}"}) + "\n" for i in range(3)))
    (workspace / "tasks").mkdir()
    (workspace / "tasks" / "docker_mc.yaml").write_text(MC_TASK)
    (workspace / "tasks" / "docker_mc.jsonl").write_text("".join(json.dumps(row) + "\n" for row in [
        {"context": "def f1(x", "choices": [")", " y"], "label": 0},
        {"context": "    return x ", "choices": ["+", "def"], "label": 0},
    ]))
    (workspace / "eval.yaml").write_text(EVAL_CONFIG)
    before = image_venv.imports("import sacrebleu")

    added = timed("install.sh eval", timings, lambda: image_venv.run("bash", INSTALL_SH, "eval", dist_dir))
    evaluated = timed("codex eval", timings, lambda: image_venv.codex(
        "eval", "--run", "latest", "-c", "eval.yaml", "--bootstrap", "0", "--json",
        cwd=workspace, env=image_env(image_venv), timeout=300))

    assert before.returncode != 0  # the train target has no text metrics
    assert added.returncode == 0, added.stdout[-4000:] + added.stderr[-4000:]
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    results = json.loads(evaluated.stdout)["results"]
    assert set(results["generation"]) >= {"bleu", "rouge_l"}, results
    assert 0.0 <= results["lm-eval"]["acc"] <= 1.0, results
