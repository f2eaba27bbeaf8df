"""``codex logs``: read a run's ``metrics.ndjson`` — tail it, summarise, compare, plot, and
export it to MLflow or W&B after the fact. RUN is a run directory, a run name under the runs root,
or ``latest``.

Summary rule: a metric's *final* value is the last one logged; its *best* is the minimum
for "lower is better" metrics (the last part of the name contains ``loss``, ``perplexity``,
``ppl`` or ``error``) and the maximum for every other metric (accuracy, throughput, ...).
Non-finite values (stored as ``null``) are never best.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from codex_core.cli.output import echo_json, echo_table

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.runs import RunDir

LOWER_IS_BETTER = ("loss", "perplexity", "ppl", "error")

_runs_dir = click.option("--runs-dir", type=click.Path(file_okay=False),
                         help="Runs root (default: $CODEX_RUNS_DIR or ./runs).")
_as_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
def logs() -> None:
    """Read a run's metrics: tail, summary, compare, plot, export. RUN is a path, a run name or `latest`."""


# -- reading ------------------------------------------------------------------------------
def _resolve(ref: str, runs_dir: str | None) -> RunDir:
    from codex_core.runs import resolve_run

    return resolve_run(ref, runs_dir)


def _rows(run: RunDir) -> list[dict[str, Any]]:
    """The run's metric rows; none at all is an error."""
    from codex_core.errors import RunDirError

    rows = list(run.read_metrics())
    if not rows:
        raise RunDirError(f"run {run.name} has no metrics yet ({run.metrics_path} is empty)",
                          hint="wait for the first logged step, or pick another run")
    return rows


def lower_is_better(name: str) -> bool:
    """Whether the smallest value of metric ``name`` is its best (see the module docstring)."""
    leaf = name.rsplit("/", 1)[-1].lower()
    return any(word in leaf for word in LOWER_IS_BETTER)


def _fmt(value: Any) -> str:
    if value is None:
        return "nan"
    if isinstance(value, (bool, int)):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m{rest % 60:02d}s" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _count(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return _fmt(n)


# -- tail -------------------------------------------------------------------------------
def format_row(row: dict[str, Any]) -> str:
    """One metrics row as a line: ``HH:MM:SS  step N  name=value ...``."""
    when = time.strftime("%H:%M:%S", time.localtime(row.get("time", 0)))
    metrics = "  ".join(f"{k}={_fmt(v)}" for k, v in row.get("metrics", {}).items())
    return f"{when}  step {row['step']:>7}  {metrics}".rstrip()


def _parse(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) and "step" in row else None


def _follow(run: RunDir, lines: int, poll: float) -> None:
    """Print the last ``lines`` rows, then new rows as they are appended, until Ctrl-C.
    A rewritten file (a resumed run drops rows after its checkpoint) is followed from its end."""
    path = run.metrics_path
    handle = open(path, encoding="utf-8")  # noqa: SIM115 - reopened when the file is replaced
    try:
        complete, _, pending = handle.read().rpartition("\n")
        rows = [r for r in map(_parse, complete.splitlines()) if r is not None]
        for row in rows[len(rows) - lines:] if lines else []:
            click.echo(format_row(row))
        while True:
            chunk = handle.read()
            if chunk:
                done, _, pending = (pending + chunk).rpartition("\n")
                for row in filter(None, map(_parse, done.splitlines())):
                    click.echo(format_row(row))
                continue
            time.sleep(poll)
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                continue
            if stat.st_ino != os.fstat(handle.fileno()).st_ino or stat.st_size < handle.tell():
                handle.close()
                handle = open(path, encoding="utf-8")  # noqa: SIM115
                handle.seek(0, os.SEEK_END)
                pending = ""
                click.echo(f"({path.name} was rewritten: following from its end)", err=True)
    finally:
        handle.close()


@logs.command()
@click.argument("run")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=10, show_default=True, help="Rows to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing rows as they are logged (Ctrl-C stops).")
@click.option("--poll", type=click.FloatRange(min=0.01), default=0.5, show_default=True, hidden=True,
              help="Seconds between checks for new rows with --follow.")
@_runs_dir
def tail(run: str, lines: int, follow: bool, poll: float, runs_dir: str | None) -> None:
    """Show the last rows of a run's metrics (with -f, follow new ones)."""
    found = _resolve(run, runs_dir)
    if follow:
        _follow(found, lines, poll)
        return
    rows = _rows(found)
    for row in rows[len(rows) - lines:] if lines else []:
        click.echo(format_row(row))


# -- summary ----------------------------------------------------------------------------
def _checkpoints(run: RunDir) -> list[dict[str, Any]]:
    """Complete checkpoints (those with a ``checkpoint.json`` marker), oldest first."""
    return [{"name": info.path.name, "path": str(info.path), "step": info.step,
             "tokens": info.meta.get("tokens"), "metrics": info.meta.get("metrics", {})}
            for info in run.checkpoints(warn=True)]


def summarize_rows(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{name: {final, final_step, best, best_step, mode}}`` of every metric in ``rows``
    (metrics.ndjson rows: ``{"step": .., "metrics": {..}}``); see the module docstring."""
    metrics: dict[str, dict[str, Any]] = {}
    for row in rows:
        for name, value in row.get("metrics", {}).items():
            entry = metrics.setdefault(name, {"final": None, "final_step": None, "best": None, "best_step": None,
                                              "mode": "min" if lower_is_better(name) else "max"})
            entry["final"], entry["final_step"] = value, row["step"]
            if value is None:
                continue
            best = entry["best"]
            if best is None or (value < best if entry["mode"] == "min" else value > best):
                entry["best"], entry["best_step"] = value, row["step"]
    return metrics


def summarize(run: RunDir, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Final and best value of every metric, throughput, time, tokens, status and checkpoints."""
    metrics = summarize_rows(rows)
    speeds = [row["metrics"]["train/tokens_per_s"] for row in rows
              if row.get("metrics", {}).get("train/tokens_per_s") is not None]
    elapsed = metrics.get("train/elapsed_s", {}).get("final")
    if elapsed is None and len(rows) > 1:
        elapsed = float(rows[-1].get("time", 0) - rows[0].get("time", 0))
    manifest = run.read_manifest()
    return {
        "name": run.name,
        "path": str(run.path),
        "status": manifest.get("status", "unknown"),
        "step": rows[-1]["step"],
        "rows": len(rows),
        "tokens": metrics.get("train/tokens", {}).get("final"),
        "time_s": elapsed,
        "tokens_per_s_mean": sum(speeds) / len(speeds) if speeds else None,
        "metrics": metrics,
        "checkpoints": _checkpoints(run),
        "evaluations": [{"checkpoint": e["checkpoint"], "label": e["label"], "results": e["results"],
                         "ci": e["ci"], "samples": e.get("samples")} for e in run.evaluations()],
        "best_checkpoint": manifest.get("best_checkpoint"),
    }


def _summaries(refs: Iterable[str], runs_dir: str | None) -> list[dict[str, Any]]:
    out = []
    for ref in refs:
        run = _resolve(ref, runs_dir)
        out.append(summarize(run, _rows(run)))
    return out


@logs.command()
@click.argument("run")
@_runs_dir
@_as_json
def summary(run: str, runs_dir: str | None, as_json: bool) -> None:
    """Final and best metrics, tokens/s, time, tokens, status and checkpoints of a run."""
    info = _summaries([run], runs_dir)[0]
    if as_json:
        echo_json(info)
        return
    click.echo(f"run         {info['name']}  ({info['path']})")
    click.echo(f"status      {info['status']}")
    click.echo(f"step        {info['step']}  ({info['rows']} rows)")
    click.echo(f"tokens      {_count(info['tokens'])}")
    click.echo(f"time        {_duration(info['time_s'])}")
    click.echo(f"tokens/s    {_count(info['tokens_per_s_mean'])} (mean)")
    click.echo("")
    echo_table(("METRIC", "FINAL", "STEP", "BEST", "STEP", "BEST IS"),
               [(name, _fmt(m["final"]), m["final_step"], _fmt(m["best"]), m["best_step"], m["mode"])
                for name, m in info["metrics"].items()])
    checkpoints = info["checkpoints"]
    click.echo("")
    if not checkpoints:
        click.echo("checkpoints: none")
    else:
        click.echo(f"checkpoints: {len(checkpoints)}" + (f" (best: {info['best_checkpoint']})"
                                                         if info["best_checkpoint"] else ""))
    for ckpt in checkpoints:
        shown = "  ".join(f"{k}={_fmt(v)}" for k, v in ckpt["metrics"].items())
        click.echo(f"  {ckpt['name']}  step {ckpt['step']}  {shown}".rstrip())
    if info["evaluations"]:
        click.echo("")
        click.echo("evaluations (codex eval):")
        echo_table(("CHECKPOINT", "TASK", "KEY", "VALUE", "95% CI", "N"),
                   [(e["checkpoint"], e["label"], key, _fmt(value),
                     f"[{_fmt(e['ci'][key][0])}, {_fmt(e['ci'][key][1])}]" if key in e["ci"] else "", e["samples"])
                    for e in info["evaluations"] for key, value in e["results"].items()])


# -- compare ----------------------------------------------------------------------------
@logs.command()
@click.argument("runs", nargs=-1, required=True)
@click.option("-m", "--metric", "metric_names", multiple=True,
              help="Metric to compare (repeatable; default: every metric outside system/).")
@_runs_dir
@_as_json
def compare(runs: tuple[str, ...], metric_names: tuple[str, ...], runs_dir: str | None, as_json: bool) -> None:
    """The summaries of several runs side by side: final (best) of each metric."""
    infos = _summaries(runs, runs_dir)
    if as_json:
        echo_json(infos)
        return
    names = list(metric_names) or list(dict.fromkeys(
        n for info in infos for n in info["metrics"] if not n.startswith("system/")))

    def cell(info: dict[str, Any], name: str) -> str:
        m = info["metrics"].get(name)
        return "-" if m is None else f"{_fmt(m['final'])} ({_fmt(m['best'])})"

    table = [("status", *(i["status"] for i in infos)), ("step", *(i["step"] for i in infos)),
             ("tokens", *(_count(i["tokens"]) for i in infos)), ("time", *(_duration(i["time_s"]) for i in infos)),
             ("tokens/s", *(_count(i["tokens_per_s_mean"]) for i in infos)),
             ("checkpoints", *(len(i["checkpoints"]) for i in infos))]
    table += [(name, *(cell(i, name) for i in infos)) for name in names]
    echo_table(("", *(i["name"] for i in infos)), table)
    click.echo("metrics: final (best)")


# -- plot -------------------------------------------------------------------------------
@logs.command()
@click.argument("runs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The PNG file to write.")
@_runs_dir
def plot(runs: tuple[str, ...], output: str, runs_dir: str | None) -> None:
    """Plot loss, validation loss, learning rate and throughput of runs (overlaid) to a PNG."""
    from codex_telemetry.plot import plot_runs

    found = [_resolve(ref, runs_dir) for ref in runs]
    names = [r.name for r in found]
    labelled = [(r.name if names.count(r.name) == 1 else str(r.path), _rows(r)) for r in found]
    click.echo(f"wrote {plot_runs(labelled, Path(output))}")


# -- export -----------------------------------------------------------------------------
_MLFLOW_ONLY = ("tracking_uri", "experiment")
_WANDB_ONLY = ("project", "entity", "mode")


def _option_name(param: str) -> str:
    return "--" + param.replace("_", "-")


@logs.command()
@click.argument("run")
@click.option("--to", "target", type=click.Choice(["mlflow", "wandb"]), required=True,
              help="Where to send the metrics: an MLflow store or a W&B run.")
@click.option("--tracking-uri", help="MLflow tracking store (default: the mlflow logger's, "
                                     "sqlite:///<runs root>/mlflow.db). Only with --to mlflow.")
@click.option("--experiment", help="MLflow experiment (default: the mlflow logger's, codex). Only with --to mlflow.")
@click.option("--run-name", help="MLflow or W&B run name (default: the run's name).")
@click.option("--project", help="W&B project (default: the wandb logger's: $WANDB_PROJECT, else codex). "
                                "Only with --to wandb.")
@click.option("--entity", help="W&B entity (default: $WANDB_ENTITY, else W&B's default). Only with --to wandb.")
@click.option("--mode", type=click.Choice(["offline", "online"]),
              help="W&B mode (default: offline; WANDB_MODE wins when set). Only with --to wandb.")
@_runs_dir
@_as_json
def export(run: str, target: str, tracking_uri: str | None, experiment: str | None, run_name: str | None,
           project: str | None, entity: str | None, mode: str | None, runs_dir: str | None, as_json: bool) -> None:
    """Send a run's metrics.ndjson to MLflow or W&B after the fact (with its config).

    The same logger a training run uses does the writing, so its defaults apply. Exporting
    a run again to MLflow replaces the metrics of the MLflow run it was sent to; to W&B, it
    continues the same W&B run and sends only the rows after the last step that run holds.
    """
    given = {"tracking_uri": tracking_uri, "experiment": experiment, "project": project, "entity": entity,
             "mode": mode}
    wrong = [name for name in (_WANDB_ONLY if target == "mlflow" else _MLFLOW_ONLY) if given[name] is not None]
    if wrong:
        raise click.UsageError(f"{', '.join(map(_option_name, wrong))} cannot be used with --to {target} "
                               f"(options of --to {'wandb' if target == 'mlflow' else 'mlflow'})")
    found = _resolve(run, runs_dir)
    rows = _rows(found)
    if target == "mlflow":
        _export_mlflow(found, rows, tracking_uri, experiment, run_name, as_json)
    else:
        _export_wandb(found, rows, {"project": project, "entity": entity, "mode": mode, "name": run_name}, as_json)


def _run_config(found: RunDir) -> dict[str, Any] | None:
    import yaml

    config = yaml.safe_load(found.config_path.read_text(encoding="utf-8")) if found.config_path.exists() else None
    return config if isinstance(config, dict) and config else None


def _export_mlflow(found: RunDir, rows: list[dict[str, Any]], tracking_uri: str | None, experiment: str | None,
                   run_name: str | None, as_json: bool) -> None:
    from codex_core.context import BuildContext
    from codex_core.errors import CodexError
    from codex_core.plugins import get_plugin_manager
    from codex_telemetry.mlflow_logger import MLflowLogger
    from codex_telemetry.params import MLflowLoggerParams

    chosen = {"tracking_uri": tracking_uri, "experiment": experiment, "run_name": run_name}
    params = MLflowLoggerParams(**{k: v for k, v in chosen.items() if v is not None})
    logger = MLflowLogger(params, BuildContext(registry=get_plugin_manager().registry, run_dir=found.path))
    try:
        if logger.resumed_run:  # exported (or logged) before: replace what that MLflow run has
            logger.resume(min(row["step"] for row in rows) - 1)
        config = _run_config(found)
        if config:
            logger.log_params(config)
        for row in rows:
            logger.log_metrics(row.get("metrics", {}), row["step"])
        logger.log_artifact(found.metrics_path)
        logger.close()
    except (RuntimeError, OSError) as exc:
        raise CodexError(f"exporting run {found.name} to mlflow failed: {exc}") from None
    info = {"run": found.name, "rows": len(rows), "to": "mlflow", "tracking_uri": logger.tracking_uri,
            "experiment": logger.experiment, "run_id": logger.run_id, "replaced": logger.resumed_run}
    if as_json:
        echo_json(info)
        return
    click.echo(f"exported {info['rows']} rows of run {found.name} to mlflow {info['tracking_uri']} "
               f"(experiment {info['experiment']}, run {info['run_id']}"
               + (", replacing its metrics)" if info["replaced"] else ")"))


def _export_wandb(found: RunDir, rows: list[dict[str, Any]], chosen: dict[str, str | None], as_json: bool) -> None:
    from codex_core.context import BuildContext
    from codex_core.errors import CodexError
    from codex_core.plugins import get_plugin_manager
    from codex_telemetry.params import WandbLoggerParams
    from codex_telemetry.wandb_logger import WandbLogger

    params = WandbLoggerParams(**{k: v for k, v in chosen.items() if v is not None})
    logger = WandbLogger(params, BuildContext(registry=get_plugin_manager().registry, run_dir=found.path))
    held = logger.held_step
    try:
        if logger.resumed_run:  # sent before (exported, or trained with the wandb logger): skip what it holds
            logger.resume(min(row["step"] for row in rows) - 1)
        config = _run_config(found)
        if config:
            logger.log_params(config)
        for row in rows:
            logger.log_metrics(row.get("metrics", {}), row["step"])
        logger.log_artifact(found.metrics_path)
        logger.close()
    except (RuntimeError, OSError) as exc:
        raise CodexError(f"exporting run {found.name} to wandb failed: {type(exc).__name__}: {exc}") from None
    sent = [row for row in rows if held is None or row["step"] > held]
    info = {"run": found.name, "rows": len(rows), "sent": len(sent), "to": "wandb", "mode": logger.mode,
            "project": logger.project, "run_id": logger.run_id, "dir": str(logger.dir / "wandb"),
            "resumed": logger.resumed_run, "held_step": held}
    if as_json:
        echo_json(info)
        return
    where = f"{logger.mode} run {logger.run_id} (project {logger.project}) in {info['dir']}"
    if logger.resumed_run:
        click.echo(f"exported {info['sent']} of {info['rows']} rows of run {found.name} to wandb: {where}, "
                   "continued" + (f" (it held steps up to {held})" if held is not None else ""))
    else:
        click.echo(f"exported {info['rows']} rows of run {found.name} to wandb: {where}")
    if logger.mode == "offline":
        click.echo(f"upload with: wandb sync {info['dir']}/offline-run-*-{logger.run_id}*")
