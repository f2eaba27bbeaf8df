"""Every ``codex`` command against bad input, as a table, run in this process.

Each case is a command line with ``{name}`` filled from the prepared world (see conftest.py)
and the words its error must contain (what is wrong, and where: the file, key or run). Every
case must exit 2 with at most a few lines on stderr, one of them ``error: ...``, no traceback
and no "internal error", and leave the runs root (the good run and the fake and truncated
ones beside it) byte-identical. ``test_every_command_has_a_case`` walks the real click tree, so
a new command without a case fails it. ``pytest -s`` prints handled/total by command.
"""

from __future__ import annotations

import io
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fault_jobs import tree_hashes

MAX_LINES = 3


@dataclass(frozen=True)
class Case:
    """``codex ARGS`` must fail with exit 2 and name each of ``expect`` (after filling ``{name}``)."""

    id: str
    args: tuple[str, ...]
    expect: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None

    def command(self, commands: set[str]) -> str:
        """The command of ``commands`` (``config show``, ``eval``) that the case runs."""
        words = self.args[:2] if len(self.args) > 1 else self.args
        return " ".join(words) if " ".join(words) in commands else words[0]


def case(id: str, *args: str, expect: tuple[str, ...] | str = (), env: dict[str, str] | None = None,
         stdin: bytes | None = None) -> Case:
    return Case(id, args, (expect,) if isinstance(expect, str) else expect, env or {}, stdin)


CONFIG_FILES = [  # (label, placeholder, words the error names)
    ("not-utf8", "not_utf8", ("not_utf8.yaml", "UTF-8")),
    ("binary", "binary", ("binary.bin",)),
    ("malformed-yaml", "malformed", ("malformed.yaml",)),
    ("not-a-mapping", "list_yaml", ("list.yaml", "mapping")),
    ("a-directory", "dir_yaml", ("dir.yaml",)),
    ("missing", "missing", ("no-such-file.yaml",)),
]
TOKENIZER_FILES = [
    ("garbage", "tok_garbage", ("tokenizer.json",)),
    ("truncated", "tok_truncated", ("tok_truncated.json",)),
    ("wrong-structure", "tok_wrong", ("tok_wrong.json",)),
    ("a-list", "tok_list", ("tok_list.json",)),
    ("not-utf8", "tok_not_utf8", ("tok_not_utf8.json",)),
    ("added-token-without-id", "tok_no_id", ("tok_no_id.json",)),
    ("missing", "missing", ("no-such-file.yaml",)),
]
OVERRIDES = [  # invalid override syntax
    ("no-value", "a.b", "'a.b'"),
    ("no-key", "=1", "'=1'"),
    ("empty-segment", "x..y=1", "x..y"),
    ("unbalanced", "trainer.betas=[0.9,0.95", "[0.9,0.95"),
    ("unknown-key", "trainer.max_stepz=3", "max_stepz"),
    ("wrong-type", "trainer.max_steps=many", "max_steps"),
    ("out-of-range", "trainer.lr=-1", "trainer.lr"),
    ("unknown-component", "model.name=gpt9", "gpt9"),
    ("param-wrong-type", "model.params.n_layer=two", "n_layer"),
    ("param-unknown", "model.params.n_layr=2", "n_layr"),
    ("param-out-of-range", "model.params.n_head=0", "n_head"),
    ("dataset-param-wrong-type", "data.params.paths=7", "paths"),
]
SWEEPS = [
    ("no-values", "trainer.lr", "trainer.lr"),
    ("no-key", "=1,2", "=1,2"),
    ("unbalanced", "trainer.betas=[0.9,0.95", "[0.9,0.95"),
    ("twice", "trainer.lr=1,1", "twice"),
    ("bad-key", "x..y=1,2", "x..y"),
]
MODEL_DIRS = [
    ("truncated-safetensors", "model_trunc", ("model_trunc",)),
    ("garbage-config", "model_badconfig", ("config.json",)),
    ("binary-config", "model_binconfig", ("config.json",)),
    ("garbage-tokenizer", "model_notok", ("tokenizer.json",)),
    ("empty-dir", "model_empty", ("model_empty",)),
    ("missing", "missing", ("no-such-file.yaml",)),
]
RUNS = [  # fake and truncated run directories, named as --run / RUN
    ("empty-run", "empty-run"),
    ("garbage-manifest", "garbage-manifest"),
    ("no-such-run", "no-such-run"),
]


def _cases() -> list[Case]:
    out: list[Case] = []
    add = out.append
    # -- codex config ---------------------------------------------------------------------
    for label, name, words in CONFIG_FILES:
        add(case(f"config-show-{label}", "config", "show", "-c", f"{{{name}}}", expect=words))
        add(case(f"config-validate-{label}", "config", "validate", "-c", f"{{{name}}}", expect=words))
        add(case(f"config-diff-{label}", "config", "diff", f"{{{name}}}", "default", expect=words))
        add(case(f"train-{label}", "train", "-c", f"{{{name}}}", expect=words))
    for label, name, words in [("wrong-type", "wrong_type", "max_steps"), ("unknown-key", "unknown_key", "max_stepz"),
                               ("out-of-range", "out_of_range", "max_steps")]:
        add(case(f"config-validate-{label}", "config", "validate", "-c", f"{{{name}}}", expect=(words, f"{name}.yaml")))
        add(case(f"train-{label}", "train", "-c", f"{{{name}}}", "--dry-run", expect=words))
    add(case("config-validate-unknown-component", "config", "validate", "--strict", "-c", "{unknown_comp}",
             expect="gpt9"))
    add(case("train-unknown-component", "train", "-c", "{unknown_comp}", "--dry-run", expect="gpt9"))
    for label, text, words in OVERRIDES:
        if label != "unknown-component" and not label.startswith(("param", "dataset-param")):
            # config show prints the tree: it neither looks components up nor checks their params
            add(case(f"config-show-override-{label}", "config", "show", "-c", "{good_yaml}", text, expect=words))
        add(case(f"config-validate-override-{label}", "config", "validate", "--strict", "-c", "{good_yaml}", text,
                 expect=words))
        add(case(f"train-override-{label}", "train", "-c", "{good_yaml}", "--dry-run", text, expect=words))
    add(case("data-prepare-override", "data", "prepare", "-c", "{good_yaml}", "=1", expect="'=1'"))
    for label, text, words in SWEEPS:
        add(case(f"config-show-sweep-{label}", "config", "show", "--sweep", text, expect=words))
        add(case(f"train-sweep-{label}", "train", "-c", "{good_yaml}", "--dry-run", "--sweep", text, expect=words))
    add(case("config-schema-extra-argument", "config", "schema", "extra", expect="extra"))
    # -- codex train ------------------------------------------------------------------------
    add(case("train-empty-dataset", "train", "-c", "{empty_yaml}", "run.name=empty", "--run-dir", "{out}",
             expect="empty-data"))
    add(case("train-resume-binary", "train", "-c", "{good_yaml}", "--resume", "{binary}", "--run-dir", "{out}",
             expect="binary.bin"))
    add(case("train-resume-model-dir", "train", "-c", "{good_yaml}", "--resume", "{model_trunc}", "--run-dir",
             "{out}", expect="model_trunc"))
    add(case("train-run-dir-a-file", "train", "-c", "{good_yaml}", "--run-dir", "{binary}", expect="binary.bin"))
    add(case("train-bad-endpoint", "train", "-c", "{good_yaml}", "--nnodes", "2", "--rdzv-endpoint", "nowhere",
             "--dry-run", expect="nowhere"))
    add(case("train-node-rank-out-of-range", "train", "-c", "{good_yaml}", "--nnodes", "2", "--node-rank", "5",
             "--rdzv-endpoint", "127.0.0.1:1", "--dry-run", expect="node-rank"))
    add(case("train-resume-truncated-run", "train", "-c", "{good_yaml}", "--resume",
             "{runs}/truncated/checkpoints/step-00000002", "--run-dir", "{out}", expect="model.safetensors"))
    # -- codex tokenizer --------------------------------------------------------------------
    for label, name, words in TOKENIZER_FILES:
        add(case(f"tokenizer-encode-{label}", "tokenizer", "encode", "-t", f"{{{name}}}", "hello", expect=words))
        add(case(f"tokenizer-decode-{label}", "tokenizer", "decode", "-t", f"{{{name}}}", "1", expect=words))
        add(case(f"tokenizer-inspect-{label}", "tokenizer", "inspect", "-t", f"{{{name}}}", expect=words))
        add(case(f"tokenizer-encode-python-{label}", "tokenizer", "encode", "--backend", "python", "-t",
                 f"{{{name}}}", "hello", expect=words))
        add(case(f"data-prepare-tokenizer-{label}", "data", "prepare", "--dataset", "text", "--dataset-param",
                 "paths=[{corpus}]", "--tokenizer", f"{{{name}}}", "-o", "{out}", expect=words))
    add(case("tokenizer-encode-stdin-not-utf8", "tokenizer", "encode", "-t", "{tok}", "-", expect="standard input",
             stdin=b"caf\xe9"))
    add(case("tokenizer-decode-not-an-id", "tokenizer", "decode", "-t", "{tok}", "abc", expect="abc"))
    add(case("tokenizer-decode-out-of-range", "tokenizer", "decode", "-t", "{tok}", "99999999", expect="99999999"))
    add(case("tokenizer-decode-negative", "tokenizer", "decode", "-t", "{tok}", "--", "-1", expect="-1"))
    add(case("tokenizer-train-empty-dataset", "tokenizer", "train", "{empty_data}", "-o", "{out}/t.json",
             expect="empty-data"))
    add(case("tokenizer-train-empty-files", "tokenizer", "train", "{empty_files}", "-o", "{out}/t.json",
             expect="empty-files"))
    add(case("tokenizer-train-missing-input", "tokenizer", "train", "{missing}", "-o", "{out}/t.json",
             expect="no-such-file.yaml"))
    add(case("tokenizer-train-output-a-dir", "tokenizer", "train", "{corpus}", "-o", "{dir_yaml}",
             expect="dir.yaml"))
    add(case("tokenizer-train-vocab-zero", "tokenizer", "train", "{corpus}", "--vocab-size", "0", "-o",
             "{out}/t.json", expect="vocab-size"))
    add(case("tokenizer-train-vocab-too-small", "tokenizer", "train", "{corpus}", "--kind", "unigram", "--vocab-size",
             "2", "-o", "{out}/t.json", expect=("unigram", "vocab size 2")))
    add(case("tokenizer-train-bad-dataset-param", "tokenizer", "train", "--dataset", "text", "--dataset-param",
             "paths=[unclosed", "-o", "{out}/t.json", expect="unclosed"))
    add(case("tokenizer-train-unknown-dataset", "tokenizer", "train", "--dataset", "no-such-dataset", "-o",
             "{out}/t.json", expect="no-such-dataset"))
    # -- codex data -------------------------------------------------------------------------
    add(case("data-prepare-empty-dataset", "data", "prepare", "--dataset", "text", "--dataset-param",
             "paths=[{empty_data}]", "--tokenizer", "{tok}", "-o", "{out}", expect="empty-data"))
    add(case("data-prepare-empty-files", "data", "prepare", "--dataset", "text", "--dataset-param",
             "paths=[{empty_files}]", "--tokenizer", "{tok}", "-o", "{out}", expect="empty-files"))
    add(case("data-prepare-binary-data", "data", "prepare", "--dataset", "jsonl", "--dataset-param",
             "paths=[{binary}]", "--tokenizer", "{tok}", "-o", "{out}", expect="binary.bin"))
    add(case("data-prepare-unknown-dataset", "data", "prepare", "--dataset", "no-such-dataset", "--tokenizer",
             "{tok}", expect="no-such-dataset"))
    add(case("data-prepare-unknown-param", "data", "prepare", "--dataset", "text", "--dataset-param", "pathz=[x]",
             "--tokenizer", "{tok}", expect="pathz"))
    add(case("data-prepare-bad-param", "data", "prepare", "--dataset", "text", "--dataset-param", "paths",
             "--tokenizer", "{tok}", expect="paths"))
    add(case("data-prepare-policy-not-utf8", "data", "prepare", "--dataset", "text", "--dataset-param",
             "paths=[{corpus}]", "--tokenizer", "{tok}", "--policy", "{policy_not_utf8}", "-o", "{out}",
             expect="policy.yaml"))
    add(case("data-prepare-policy-binary", "data", "prepare", "--dataset", "text", "--dataset-param",
             "paths=[{corpus}]", "--tokenizer", "{tok}", "--policy", "{binary}", "-o", "{out}", expect="binary.bin"))
    add(case("data-prepare-config-not-utf8", "data", "prepare", "-c", "{not_utf8}", expect="not_utf8.yaml"))
    add(case("data-prepare-output-a-file", "data", "prepare", "--dataset", "text", "--dataset-param",
             "paths=[{corpus}]", "--tokenizer", "{tok}", "-o", "{binary}", expect="binary.bin"))
    for label, name, words in [("not-a-cache", "empty_data", "empty-data"), ("garbage-manifest", "cache_garbage",
                                                                      "manifest.json"),
                               ("a-file", "binary", "binary.bin"), ("missing", "missing", "no-such-file.yaml")]:
        add(case(f"data-inspect-{label}", "data", "inspect", f"{{{name}}}", expect=words))
        add(case(f"data-verify-{label}", "data", "verify", f"{{{name}}}", expect=words))
    add(case("data-inspect-bad-tokenizer", "data", "inspect", "{token_cache}", "--tokenizer", "{tok_garbage}",
             expect="tokenizer.json"))
    add(case("data-inspect-negative-samples", "data", "inspect", "{token_cache}", "--samples", "-1",
             expect="samples"))
    add(case("data-list-extra-argument", "data", "list", "extra", expect="extra"))
    # -- codex generate / export / eval with model dirs and runs -----------------------------
    for label, name, words in MODEL_DIRS:
        add(case(f"generate-model-{label}", "generate", "--model", f"{{{name}}}", "hi", "--max-new-tokens", "1",
                 expect=words))
        add(case(f"export-model-{label}", "export", "--model", f"{{{name}}}", "-o", "{out}", expect=words))
        add(case(f"eval-model-{label}", "eval", "--model", f"{{{name}}}", "--task",
                 "perplexity:dataset={{name: text, params: {{paths: [{corpus}]}}}}", "--bootstrap", "0",
                 expect=words))
    add(case("export-checkpoint-binary", "export", "--checkpoint", "{binary}", "-o", "{out}", expect="binary.bin"))
    add(case("export-checkpoint-model-dir", "export", "--checkpoint", "{model_trunc}", "-o", "{out}",
             expect="model_trunc"))
    add(case("export-output-not-empty", "export", "--run", "good", "-o", "{corpus}", expect="corpus"))
    for label, run in [*RUNS, ("truncated-checkpoint", "truncated")]:
        add(case(f"generate-run-{label}", "generate", "--run", run, "hi", "--max-new-tokens", "1", expect=run))
        add(case(f"export-run-{label}", "export", "--run", run, "-o", "{out}", expect=run))
        add(case(f"eval-run-{label}", "eval", "--run", run, "--bootstrap", "0", "--task",
                 "perplexity:split=val", expect=run))
    add(case("generate-stdin-not-utf8", "generate", "--run", "good", "--max-new-tokens", "1", "-",
             expect="standard input", stdin=b"caf\xe9"))
    add(case("generate-which-nonsense", "generate", "--run", "good", "--which", "newest", "hi", expect="newest"))
    add(case("generate-which-missing-step", "generate", "--run", "good", "--which", "7", "hi", expect="7"))
    add(case("generate-bad-dtype", "generate", "--run", "good", "--dtype", "fp7", "hi", expect="fp7"))
    add(case("generate-bad-device", "generate", "--run", "good", "--device", "tpu", "hi", expect="tpu"))
    add(case("generate-temperature-negative", "generate", "--run", "good", "--temperature", "-1", "hi",
             expect="temperature"))
    add(case("generate-top-p-out-of-range", "generate", "--run", "good", "--top-p", "7", "hi", expect="top"))
    add(case("generate-runs-dir-a-file", "generate", "--run", "good", "--runs-dir", "{binary}", "hi",
             expect="binary.bin"))
    add(case("eval-predictions-garbage", "eval", "--task", "code-completion", "--predictions", "{preds_garbage}",
             expect="preds.jsonl"))
    add(case("eval-predictions-binary", "eval", "--task", "code-completion", "--predictions", "{binary}",
             expect="binary.bin"))
    add(case("eval-config-not-utf8", "eval", "--run", "good", "-c", "{eval_not_utf8}", expect="eval.yaml"))
    add(case("eval-config-binary", "eval", "--run", "good", "-c", "{binary}", expect="binary.bin"))
    add(case("eval-config-unknown-task", "eval", "--run", "good", "-c", "{eval_unknown}", expect="no-such-task"))
    add(case("eval-task-unknown", "eval", "--run", "good", "--task", "no-such-task", expect="no-such-task"))
    add(case("eval-task-unbalanced", "eval", "--run", "good", "--task", "perplexity:dataset={{name: text",
             expect="unbalanced"))
    add(case("eval-task-unknown-param", "eval", "--run", "good", "--task", "perplexity:splitt=val",
             expect="splitt"))
    add(case("eval-task-wrong-type", "eval", "--run", "good", "--task", "perplexity:split=[1,2]", expect="split"))
    add(case("eval-metrics-unknown", "eval", "--run", "good", "--task", "perplexity", "--metrics", "no-such-metric",
             expect="no-such-metric"))
    add(case("eval-context-length-too-short", "eval", "--run", "good", "--task", "perplexity:split=val",
             "--context-length", "1", expect="context-length"))
    add(case("eval-nothing-to-evaluate", "eval", "--task", "perplexity", expect="--model"))
    for label, a in [("garbage-result", "{result_garbage}"), ("binary", "{binary}"), ("no-such-run", "no-such-run"),
                     ("garbage-manifest", "garbage-manifest"), ("empty-run", "empty-run")]:
        words = a.strip("{}").replace("result_garbage", "result.json").replace("binary", "binary.bin")
        add(case(f"eval-compare-{label}", "eval", "compare", a, "good", expect=words))
    add(case("eval-tasks-extra-argument", "eval", "tasks", "extra", expect="extra"))
    # -- codex runs / logs / repro with fake and truncated runs ------------------------------
    for label, run in [*RUNS, ("bad-metrics", "bad-metrics")]:
        add(case(f"runs-show-{label}", "runs", "show", run, expect=run))
        add(case(f"logs-summary-{label}", "logs", "summary", run, expect=run))
        add(case(f"logs-tail-{label}", "logs", "tail", run, expect=run))
        add(case(f"logs-compare-{label}", "logs", "compare", "good", run, expect=run))
        add(case(f"logs-plot-{label}", "logs", "plot", "good", run, "-o", "{out}/plot.png", expect=run))
        add(case(f"logs-export-{label}", "logs", "export", run, "--to", "mlflow", "--tracking-uri",
                 "sqlite:///{out}/mlflow.db", expect=run))
        if run != "bad-metrics":  # they read the manifest and config, not metrics.ndjson
            add(case(f"repro-show-{label}", "repro", "show", run, expect=run))
            add(case(f"repro-diff-{label}", "repro", "diff", "good", run, expect=run))
        add(case(f"repro-check-{label}", "repro", "check", run, "--steps", "1", expect=run))
    add(case("runs-rm-no-such-run", "runs", "rm", "no-such-run", "-y", expect="no-such-run"))
    add(case("runs-rm-outside-runs-root", "runs", "rm", "{corpus}", "-y", expect="corpus"))
    add(case("runs-list-runs-root-a-file", "runs", "list", expect="binary.bin", env={"CODEX_RUNS_DIR": "{binary}"}))
    add(case("runs-list-runs-dir-a-file", "runs", "list", "--runs-dir", "{binary}", expect="binary.bin"))
    add(case("logs-tail-negative-lines", "logs", "tail", "good", "-n", "-3", expect="lines"))
    add(case("logs-export-unknown-target", "logs", "export", "good", "--to", "neptune", expect="neptune"))
    add(case("logs-export-wandb-option-to-mlflow", "logs", "export", "good", "--to", "mlflow", "--project", "x",
             expect="--project"))
    add(case("logs-plot-output-a-dir", "logs", "plot", "good", "-o", "{dir_yaml}", expect="dir.yaml"))
    add(case("repro-check-zero-steps", "repro", "check", "good", "--steps", "0", expect="steps"))
    # -- the rest ---------------------------------------------------------------------------
    add(case("cache-clear-unknown-entry", "cache", "clear", "no-such-entry", "-y", expect="no-such-entry"))
    add(case("cache-clear-home-a-file", "cache", "clear", "-y", expect="binary.bin", env={"CODEX_HOME": "{binary}"}))
    add(case("cache-info-home-a-file", "cache", "info", expect="binary.bin", env={"CODEX_HOME": "{binary}"}))
    add(case("completion-unknown-shell", "completion", "tcsh", expect="tcsh"))
    add(case("models-list-extra-argument", "models", "list", "extra", expect="extra"))
    add(case("plugins-list-unknown-kind", "plugins", "list", "--kind", "widget", expect="widget"))
    add(case("plugins-install-first-party", "plugins", "install", "codex-core", expect=("codex-core", "pinned")))
    add(case("plugins-install-torch", "plugins", "install", "torch==2.0", expect=("torch", "pinned")))
    add(case("plugins-install-missing-wheel", "plugins", "install", "./no-such-plugin-1.0-py3-none-any.whl",
             expect="no-such-plugin-1.0-py3-none-any.whl"))
    add(case("plugins-new-bad-name", "plugins", "new", "bad name!", "-o", "{dir_yaml}", expect="bad name!"))
    add(case("plugins-new-unknown-kind", "plugins", "new", "acme", "--kind", "metric,widget", "-o", "{dir_yaml}",
             expect="widget"))
    add(case("plugins-uninstall-not-installed", "plugins", "uninstall", "no-such-plugin-xyz", expect="no-such-plugin-xyz"))
    add(case("unknown-command", "trian", expect="train"))
    return out


CASES = _cases()
KNOWN: dict[str, str] = {}  # bad inputs found and not yet handled: case id -> where the fix belongs (xfail)
PARAMS = [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=KNOWN[c.id])] if c.id in KNOWN else [])
          for c in CASES]


@pytest.fixture
def fill(world, tmp_path: Path) -> Callable[[str], str]:
    """``{name}`` -> the world's path (``{out}``: a fresh folder of this test, not yet made)."""
    paths = {**world.paths, "out": str(tmp_path / "out"),
             "token_cache": str(next(p for p in (world.home / "token-caches").iterdir() if p.is_dir()))}
    return lambda text: text.format(**paths)


@pytest.mark.parametrize("bad", PARAMS)
def test_bad_input_exits_2_with_one_line_and_changes_no_run(bad: Case, world, fill, codex_main,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in bad.env.items():
        monkeypatch.setenv(key, fill(value))
    if bad.stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(bad.stdin), encoding="utf-8"))
    before = tree_hashes(world.runs)

    code, out, err = codex_main(*(fill(a) for a in bad.args))

    lines = [line for line in err.splitlines() if line.strip()]
    shown = f"exit {code}, stderr {err[-1500:]!r}, stdout {out[-300:]!r}"
    assert code == 2, shown
    assert "Traceback" not in err and "internal error" not in err, shown
    assert 1 <= len(lines) <= MAX_LINES and any(line.lower().startswith("error: ") for line in lines), shown
    message = err.lower()
    for word in bad.expect:
        assert fill(word).lower() in message, f"{fill(word)!r} not named: {shown}"
    assert tree_hashes(world.runs) == before, f"the runs root changed: {shown}"


def _leaf_commands() -> set[str]:
    import click

    from codex_core.cli import cli

    ctx = click.Context(cli)
    found: set[str] = set()

    def walk(group: click.Group, prefix: str) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            path = f"{prefix} {name}".strip()
            if isinstance(command, click.Group):
                if command.invoke_without_command:
                    found.add(path)
                walk(command, path)
            else:
                found.add(path)

    walk(cli, "")
    return found


def test_every_command_has_a_case(capsys: pytest.CaptureFixture[str]) -> None:
    """Every command and sub-command ``codex --help`` lists has at least one bad-input case."""
    commands = _leaf_commands()
    covered = Counter(c.command(commands) for c in CASES)
    with capsys.disabled():
        print(f"\nbad-input table: {len(CASES) - len(KNOWN)}/{len(CASES)} bad inputs handled, over {len(commands)} "
              "commands (cases by command below)")
        for name in sorted(commands):
            print(f"  {name:<20} {covered[name]}")
    assert not [name for name in commands if covered[name] == 0]


def test_runs_list_lists_damaged_runs_beside_good_ones(world, codex_main) -> None:
    """A runs root holding fake and damaged runs is still listed: each damaged one as such, with a
    warning line naming what is wrong with it, and nothing changed."""
    import json

    before = tree_hashes(world.runs)

    code, out, err = codex_main("runs", "list", "--json")

    status = {r["name"]: r["status"] for r in json.loads(out)}
    assert code == 0, err
    assert status["good"] == "completed" and status["garbage-manifest"] == status["bad-metrics"] == "damaged"
    assert "garbage-manifest/manifest.json" in err and "bad-metrics/metrics.ndjson" in err
    assert "Traceback" not in err and tree_hashes(world.runs) == before
