"""``codex eval``: score a checkpoint (or a model directory, or given outputs) on evaluation
tasks; ``codex eval tasks`` lists the registered tasks; ``codex eval compare`` tells whether
one result is better than another (paired bootstrap).

The runner is :mod:`codex_models.evaluation.runner`; torch and transformers are imported only
when a model is loaded.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from codex_core.cli.output import echo_json, echo_table
from codex_core.errors import CodexError
from codex_models.cli.run_option import checkpoint_for_run, model_source, run_options

EXAMPLES = """\b
Examples:
  codex eval --run latest                                  # perplexity (test split) + stdlib pass@1
  codex eval --run latest --task code-completion:n=10,k=[1,5]
  codex eval --model DIR --task 'perplexity:dataset={name: text, params: {paths: [docs/]}}'
  codex eval --task code-completion:problems=HumanEval.jsonl.gz --predictions samples.jsonl
  codex eval compare runA runB
"""


class _Progress:
    """A bar redrawn in place on a terminal; a plain line every 10% (or 30 s) in pipes."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.label, self.last_line, self.last_tenth = "", 0.0, -1

    def start(self, label: str) -> None:
        self.finish()
        self.label, self.last_line, self.last_tenth = label, time.monotonic(), -1

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        if self.tty:
            filled = round(fraction * 20)
            self.stream.write(f"\r{self.label}: [{'#' * filled}{'.' * (20 - filled)}] {done}/{total}")
            self.stream.flush()
            return
        tenth = int(fraction * 10)
        if tenth > self.last_tenth or time.monotonic() - self.last_line > 30:
            self.last_tenth, self.last_line = tenth, time.monotonic()
            self.stream.write(f"{self.label}: {done}/{total}\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty and self.label:
            self.stream.write("\n")
        self.label = ""


def _specs(tasks: tuple[str, ...], metrics: str | None, config_file: str | None, registry: Any) -> list[Any]:
    from codex_core.evaluation import EvalConfig, parse_task_option, resolve_task_paths
    from codex_models.evaluation.runner import check_labels, with_metrics

    given = resolve_task_paths([parse_task_option(t) for t in tasks], None, registry)
    for spec in given:
        registry.get("task", spec.name)  # unknown task: did-you-mean, before loading a model
    if metrics is not None:
        names = [m.strip() for m in metrics.split(",") if m.strip()]
        if not given:
            raise CodexError("--metrics sets the metrics of the tasks given with --task; give --task too")
        given = with_metrics(given, names, registry)
    from_file = EvalConfig.load(config_file).tasks if config_file else []
    for spec in from_file:
        registry.get("task", spec.name)
    check_labels([*from_file, *given])
    return [*from_file, *given]


@click.group("eval", invoke_without_command=True, epilog=EXAMPLES)
@click.option("--model", "model_dir", metavar="DIR", help="A model directory (weights, config and tokenizer.json).")
@run_options
@click.option("--task", "tasks", multiple=True, metavar="NAME[:K=V,...]",
              help="A task with params (values are YAML; label=X names the result). Repeatable. "
                   "Default with --run: perplexity on the test split and code-completion on the stdlib problems.")
@click.option("--metrics", metavar="A,B,...", help="The metrics of the tasks given with --task (e.g. exact-match,bleu).")
@click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), metavar="EVAL.yaml",
              help="An eval config: tasks: [{name, label?, params}] (paths relative to the file).")
@click.option("--predictions", type=click.Path(dir_okay=False), metavar="SAMPLES.jsonl",
              help='Score given outputs instead of a model: jsonl rows {"task_id": ID, "completion": TEXT}.')
@click.option("--max-samples", type=click.IntRange(min=1), metavar="N", help="Score only the first N units of each task.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of sampling and of the bootstrap.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True, metavar="N",
              help="Bootstrap resamples for the 95% intervals (0: none).")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write <label>.json and <label>.samples.ndjson here (default with --run: the run's eval/<checkpoint>/).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--dtype", default="fp32", show_default=True, help="fp32, bf16 or fp16.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Sequences per forward pass.")
@click.option("--context-length", type=click.IntRange(min=2), metavar="N",
              help="The context the tasks may use (at most the model's). Default: a run's trainer.seq_len "
                   "(the positions it was trained on), else the model's context length.")
@click.option("--json", "as_json", is_flag=True,
              help="Print {model, results, ci, samples, files} as one JSON object.")
@click.pass_context
def eval_(ctx: click.Context, model_dir: str | None, run: str | None, which: str, runs_dir: str | None,
          tasks: tuple[str, ...], metrics: str | None, config_file: str | None, predictions: str | None,
          max_samples: int | None, seed: int, bootstrap: int, out_dir: str | None, device: str, dtype: str,
          batch_size: int, context_length: int | None, as_json: bool) -> None:
    """Evaluate a checkpoint of --run RUN (see --which), a --model DIR, or given --predictions
    on evaluation tasks, with seeded 95% bootstrap intervals.

    With --run the results go to the run directory (eval/<checkpoint>/) and to the run's
    loggers, as eval/<label>/<key>; `codex logs summary RUN` shows them.
    """
    if ctx.invoked_subcommand is not None:
        return
    from codex_core.context import BuildContext
    from codex_core.evaluation import EvalRequest, read_predictions
    from codex_core.plugins import get_plugin_manager
    from codex_models.evaluation.runner import Target, default_tasks, log_to_run, run_tasks, write_outcome

    registry = get_plugin_manager().registry
    specs = _specs(tasks, metrics, config_file, registry)
    given = None
    if predictions is not None:
        if model_dir is not None or run is not None:
            raise CodexError("--predictions scores given outputs; leave out --model and --run")
        if len(specs) != 1:
            raise CodexError("--predictions needs exactly one --task (the task the outputs are for)",
                             hint="e.g. --task code-completion:problems=problems.jsonl")
        given = read_predictions(predictions)
        target = Target()
    else:
        source = model_source({"--model DIR": model_dir}, run, which, runs_dir)
        if not source.is_dir():
            raise CodexError(f"model directory {str(source)!r} does not exist")
        target = Target.of(source)
    config = _run_config(target)
    if not specs:
        specs = default_tasks() if config is not None else default_tasks()[1:]
    context = BuildContext(registry=registry, run_dir=target.run.path if target.run else None, seed=seed,
                           device=device)
    lm = None
    if target.path is not None:
        from codex_models.evaluation.lm import HFLanguageModel

        if context_length is None and config is not None:
            context_length = config.trainer.seq_len
        lm = HFLanguageModel.from_dir(target.path, device=device, dtype=dtype, batch_size=batch_size,
                                      context_length=context_length)
        context.tokenizer = lm.tokenizer
    progress = _Progress()
    request = EvalRequest(context=context, run_dir=context.run_dir, config=config, max_samples=max_samples,
                          seed=seed, predictions=given, progress=progress)
    try:
        outcomes = run_tasks(specs, lm, request, bootstrap=bootstrap, on_start=lambda s: progress.start(s.key))
    finally:
        progress.finish()
    folder = Path(out_dir) if out_dir else (target.run.eval_dir / target.checkpoint.path.name
                                             if target.run is not None else None)
    files = {o.label: str(write_outcome(o, target, folder)) for o in outcomes} if folder is not None else {}
    if target.run is not None:
        log_to_run(outcomes, target, context)
    _report(outcomes, target, files, as_json)


def _run_config(target: Any) -> Any:
    if target.run is None:
        return None
    from codex_core.config import load_config

    return load_config(target.run.config_path).config


def _report(outcomes: list[Any], target: Any, files: dict[str, str], as_json: bool) -> None:
    from codex_models.evaluation.runner import finite

    if as_json:
        echo_json(finite({
            "model": target.describe(),
            "results": {o.label: o.results for o in outcomes},
            "ci": {o.label: {k: list(v) for k, v in o.ci.items()} for o in outcomes},
            "samples": {o.label: len(o.result.ids) for o in outcomes},
            "info": {o.label: o.info for o in outcomes},
            "seconds": {o.label: round(o.seconds, 3) for o in outcomes},
            "files": files,
        }))
        return
    described = target.describe()
    if "run" in described:
        click.echo(f"{described['run']} {described['checkpoint']} (step {described['step']})")
    elif "path" in described:
        click.echo(described["path"])
    rows = []
    for o in outcomes:
        for key, value in o.results.items():
            lo_hi = o.ci.get(key)
            rows.append((o.label, key, _fmt(value), f"[{_fmt(lo_hi[0])}, {_fmt(lo_hi[1])}]" if lo_hi else "",
                         len(o.result.ids)))
    echo_table(("TASK", "KEY", "VALUE", "95% CI", "N"), rows)
    for o in outcomes:
        counts = {k: v for k, v in o.info.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        if counts:
            click.echo(f"{o.label}: " + ", ".join(f"{k} {_fmt(float(v))}" for k, v in counts.items()))
    for label, path in files.items():
        click.echo(f"wrote {path}" if len(files) == 1 else f"wrote {label}: {path}")


def _fmt(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.4e}"


@eval_.command("tasks")
@click.option("--json", "as_json", is_flag=True, help="Print the tasks and their params as JSON.")
def tasks_cmd(as_json: bool) -> None:
    """The registered evaluation tasks and their params."""
    from codex_core.plugins import get_plugin_manager

    rows = []
    for spec in get_plugin_manager().registry.list("task"):
        params: list[dict[str, Any]] = []
        error = None
        try:
            model = spec.load_config()
        except CodexError as exc:
            model, error = None, str(exc)
        for name, info in (model.model_fields.items() if model is not None else ()):
            required = info.is_required()
            default = None if required else info.get_default(call_default_factory=True)
            params.append({"name": name, "type": _type_name(info.annotation), "required": required,
                           "default": default, "description": info.description or ""})
        rows.append({"name": spec.name, "aliases": list(spec.aliases), "plugin": spec.plugin,
                     "description": spec.description, "params": params, **({"error": error} if error else {})})
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no evaluation tasks are installed (codex-models provides the built-in ones)")
        return
    for row in rows:
        click.echo(f"{row['name']}  ({row['plugin']})  {row['description']}")
        for p in row["params"]:
            default = "(required)" if p["required"] else "= " + json.dumps(p["default"], default=str)
            click.echo(f"    {p['name']}: {p['type']} {default}  {p['description']}".rstrip())
        if "error" in row:
            click.echo(f"    (params unavailable: {row['error']})")


def _type_name(annotation: Any) -> str:
    """``str | None``, ``list[int]``, ``'test' | 'val'``: a params field's type for people."""
    import types
    import typing

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if annotation is type(None):
        return "None"
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


@eval_.command("compare")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--task", "only", metavar="LABEL", help="Compare only this task (its label or name).")
@click.option("--which", default="best", show_default=True, metavar="best|last|N",
              help="Which evaluated checkpoint of a run A or B to read.")
@click.option("--runs-dir", type=click.Path(file_okay=False), help="Runs root for run names.")
@click.option("--bootstrap", type=click.IntRange(min=1), default=1000, show_default=True, metavar="N",
              help="Paired bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the resampling.")
@click.option("--json", "as_json", is_flag=True, help="Print {LABEL: {KEY: {a, b, delta, ci, p_value}}}.")
def compare_cmd(a: str, b: str, only: str | None, which: str, runs_dir: str | None, bootstrap: int, seed: int,
                as_json: bool) -> None:
    """Is B better than A? A and B are runs (their evaluated checkpoint, see --which) or
    eval result files (<label>.json). Each key shared by both gets B - A over the samples
    both scored, a paired-bootstrap 95% interval of that delta and a two-sided p-value.
    Results over different sample ids are not compared (exit 2)."""
    from codex_core.evaluation import paired_bootstrap
    from codex_core.plugins import get_plugin_manager
    from codex_models.evaluation.runner import finite

    side_a, side_b = _results(a, which, runs_dir), _results(b, which, runs_dir)
    labels = [label for label in side_a if label in side_b
              and (only is None or only in (label, side_a[label]["task"]["name"]))]
    if not labels:
        raise CodexError(f"{a} and {b} have no evaluated task in common" + (f" named {only!r}" if only else ""),
                         hint=f"A has {', '.join(side_a) or 'none'}; B has {', '.join(side_b) or 'none'}")
    registry = get_plugin_manager().registry
    out: dict[str, dict[str, Any]] = {}
    for label in labels:
        doc_a, doc_b = side_a[label], side_b[label]
        if doc_a["task"]["name"] != doc_b["task"]["name"]:
            raise CodexError(f"{label}: A ran task {doc_a['task']['name']!r}, B ran {doc_b['task']['name']!r}")
        ids_a = [u["id"] for u in doc_a.get("units", [])]
        by_id_b = {u["id"]: u["stats"] for u in doc_b.get("units", [])}
        if set(ids_a) != set(by_id_b):
            raise CodexError(f"{label}: the results are over different samples ({len(ids_a)} in A, {len(by_id_b)} "
                             f"in B, {len(set(ids_a) & set(by_id_b))} shared)",
                             hint="evaluate both on the same data with the same --max-samples")
        task = registry.build("task", doc_a["task"]["name"], doc_a["task"]["params"])
        stats_a = [u["stats"] for u in doc_a["units"]]
        stats_b = [by_id_b[i] for i in ids_a]
        compared = paired_bootstrap(task.scorers(), stats_a, stats_b, resamples=bootstrap, seed=seed)
        out[label] = {key: c.to_dict() for key, c in compared.items()}
    if as_json:
        echo_json(finite(out))
        return
    echo_table(("TASK", "KEY", "A", "B", "B - A", "95% CI", "P"),
               [(label, key, _fmt(c["a"]), _fmt(c["b"]), _fmt(c["delta"]),
                 f"[{_fmt(c['ci'][0])}, {_fmt(c['ci'][1])}]", _fmt(c["p_value"]))
                for label, keys in out.items() for key, c in keys.items()])


def _results(ref: str, which: str, runs_dir: str | None) -> dict[str, dict[str, Any]]:
    """label -> result document, of an eval result file or of a run's evaluated checkpoint."""
    path = Path(ref)
    if path.suffix == ".json" and path.is_file():
        return {doc["label"]: doc for doc in [_read_result(path)]}
    checkpoint = checkpoint_for_run(ref, which, runs_dir)
    folder = checkpoint.parent.parent / "eval" / checkpoint.name
    found = {p.stem: _read_result(p) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}
    if not found:
        raise CodexError(f"{ref}: checkpoint {checkpoint.name} has no evaluation results",
                         hint=f"run codex eval --run {ref} --which {which} first, or give a <label>.json file")
    return found


def _read_result(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CodexError(f"cannot read eval result {str(path)!r}: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("task"), dict) or "units" not in doc:
        raise CodexError(f"{path} is not a codex eval result file (no task or units)")
    doc.setdefault("label", path.stem)
    return doc
