"""``codex train``: train a model from a run config (the built-in default without ``-c``)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click


@click.command()
@click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False),
              help="Run config YAML (default: the built-in default config: a small code model on the stdlib).")
@click.argument("overrides", nargs=-1)
@click.option("--sweep", "sweeps", multiple=True, metavar="KEY=V1,V2",
              help="Train every point of a grid, each as its own run; repeat for several keys.")
@click.option("--resume", metavar="auto|PATH",
              help="auto: continue the run (run.name or --run-dir) from its newest complete checkpoint, or start "
                   "it; PATH: resume from that checkpoint directory.")
@click.option("--run-dir", type=click.Path(file_okay=False), help="The run directory (default: RUNS_ROOT/run.name).")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on this machine (launches torchrun: DDP, or FSDP with trainer.distributed=fsdp).")
@click.option("--nnodes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Machines (nodes) in the run, each started with this command, its own --node-rank and the "
                   "same --rdzv-endpoint; --nproc processes on each.")
@click.option("--node-rank", type=click.IntRange(min=0), default=0, show_default=True,
              help="This machine's place among the nodes, 0..nnodes-1; node 0 hosts the rendezvous.")
@click.option("--rdzv-endpoint", "endpoint", metavar="HOST:PORT",
              help="Where the nodes meet: node 0's address (as the other nodes reach it) and a free port on it.")
@click.option("--dry-run", is_flag=True, help="Validate the config and build nothing; print what would run.")
@click.option("--json", "as_json", is_flag=True, help="Print the result (or the sweep summary) as JSON.")
def train(config_file: str | None, overrides: tuple[str, ...], sweeps: tuple[str, ...], resume: str | None,
          run_dir: str | None, nproc: int, nnodes: int, node_rank: int, endpoint: str | None, dry_run: bool,
          as_json: bool) -> None:
    """Train a model. OVERRIDES are key.path=value pairs, e.g. trainer.max_steps=100.

    Ctrl-C or SIGTERM finishes the current step, writes a checkpoint and exits with status
    130 (Ctrl-C) or 143 (SIGTERM), the run marked "stopped"; continue with --resume auto.
    A second Ctrl-C stops at once. Errors print one line and exit with status 2.

    On several machines, run the same command on each with --nnodes N, --node-rank 0..N-1
    and node 0's --rdzv-endpoint HOST:PORT. A node that is lost or hangs stops the others
    within trainer.dist_timeout with one line; start every node again with --resume auto.
    """
    from codex_core.config import expand_sweeps, load_config
    from codex_core.errors import CodexError

    _check_nodes(nnodes, node_rank, endpoint, sweeps)
    points = expand_sweeps(sweeps)
    if sweeps and (resume or run_dir):
        raise CodexError("--sweep runs each point as a new run: it cannot be combined with --resume or --run-dir")
    configs = []
    for point in points:
        extra = list(point.overrides)
        loaded = load_config(config_file, [*overrides, *extra]).config
        if sweeps:
            base = loaded.run.name or "sweep"
            loaded = load_config(config_file, [*overrides, *extra, f"run.name={base}-{point.id}"]).config
        configs.append((point, loaded))
    if dry_run:
        _print_dry_run(configs, as_json)
        return
    if (nproc > 1 or nnodes > 1) and "LOCAL_RANK" not in os.environ:
        from codex_models.training.launch import launch

        for _, config in configs:
            args = _worker_args(config_file, overrides, config.run.name if sweeps else None, resume, run_dir)
            code = launch(nproc, args, nnodes=nnodes, node_rank=node_rank, endpoint=endpoint,
                          timeout=config.trainer.dist_timeout)
            if code:
                raise SystemExit(code)
        return
    results = []
    for point, config in configs:
        from codex_models.training.run import run_training

        result = run_training(config, resume=resume, run_dir=run_dir, progress=not as_json)
        results.append((point, result))
        if int(os.environ.get("RANK", "0")) == 0 and not as_json:
            _print_result(result)
        if result.signal:  # stopped by Ctrl-C or SIGTERM: the rest of a sweep does not start
            break
    if int(os.environ.get("RANK", "0")) != 0:
        return
    if as_json:
        from codex_core.cli.output import echo_json

        rows = [_result_row(p, r) for p, r in results]
        echo_json(rows if sweeps else rows[0])
    elif sweeps:
        _print_sweep_table(results)
    stopped_by = next((r.signal for _, r in results if r.signal), None)
    if stopped_by:
        sys.exit(128 + stopped_by)  # 130 after Ctrl-C, 143 after SIGTERM, as a shell reports them


def _check_nodes(nnodes: int, node_rank: int, endpoint: str | None, sweeps: tuple[str, ...]) -> None:
    """One line for multi-node flags that cannot work together (before anything is loaded)."""
    from codex_core.errors import CodexError

    if node_rank >= nnodes:
        raise CodexError(f"--node-rank {node_rank} is outside 0..{nnodes - 1} (--nnodes {nnodes})",
                         hint="number the nodes 0 to nnodes-1, one rank per node")
    if endpoint is None:
        if nnodes > 1:
            raise CodexError(f"--nnodes {nnodes} needs --rdzv-endpoint HOST:PORT (node 0's address and a free port "
                             "on it), the same on every node")
        return
    if nnodes == 1:
        raise CodexError("--rdzv-endpoint is for a run on several nodes", hint="add --nnodes N, or drop it")
    host, _, port = endpoint.rpartition(":")
    if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise CodexError(f"--rdzv-endpoint {endpoint!r} is not HOST:PORT",
                         hint="give node 0's address and a port from 1 to 65535, e.g. 10.0.0.1:29500")
    if sweeps:
        raise CodexError("--sweep cannot be combined with --nnodes: run each point as its own multi-node run")


def _worker_args(config_file: str | None, overrides: tuple[str, ...], name: str | None, resume: str | None,
                 run_dir: str | None) -> list[str]:
    """The arguments of ``codex train`` that every training process gets (``python -m codex_models.training``)."""
    args: list[str] = []
    if config_file:
        args += ["-c", config_file]
    args += list(overrides)
    if name:
        args.append(f"run.name={name}")
    if resume:
        args += ["--resume", resume]
    if run_dir:
        args += ["--run-dir", run_dir]
    return args


def _result_row(point: Any, result: Any) -> dict[str, Any]:
    return {"id": point.id, "overrides": list(point.overrides), "run": str(result.run), "status": result.status,
            "step": result.step, "metrics": {k: v for k, v in result.metrics.items() if not k.startswith("_")},
            "elapsed_s": round(result.elapsed_s, 2)}


def _print_result(result: Any) -> None:
    shown = ", ".join(f"{k} {result.metrics[k]:.4f}" for k in ("train/loss", "val/loss") if k in result.metrics)
    click.echo(f"{result.status}: {result.run} at step {result.step}" + (f" ({shown})" if shown else "")
               + f" in {result.elapsed_s:.0f}s")


def _print_sweep_table(results: list[Any]) -> None:
    click.echo(f"{'point':<16} {'status':<10} {'step':>6} {'train/loss':>10} {'val/loss':>10}  overrides")
    for point, r in results:
        loss = r.metrics.get("train/loss")
        val = r.metrics.get("val/loss")
        click.echo(f"{point.id:<16} {r.status:<10} {r.step:>6} {_num(loss):>10} {_num(val):>10}  "
                   + " ".join(point.overrides))


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _print_dry_run(configs: list[Any], as_json: bool) -> None:
    from codex_core.config.components import validate_components
    from codex_core.plugins import get_plugin_manager

    registry = get_plugin_manager().registry
    rows = []
    for point, config in configs:
        validate_components(config, registry, strict=True)  # raises on an unknown component or bad params
        rows.append({"id": point.id, "overrides": list(point.overrides), "run_name": config.run.name,
                     "config_hash": config.hash(), "model": config.model.name, "tokenizer": config.tokenizer.name,
                     "dataset": config.data.name, "max_steps": config.trainer.max_steps})
    if as_json:
        from codex_core.cli.output import echo_json

        echo_json(rows if len(rows) > 1 else rows[0])
    else:
        for row in rows:
            click.echo(f"would train {row['run_name'] or '(a new run)'}: model {row['model']}, tokenizer "
                       f"{row['tokenizer']}, data {row['dataset']}, max_steps {row['max_steps']}, config "
                       f"{row['config_hash'][:12]}" + (f" [{' '.join(row['overrides'])}]" if row["overrides"] else ""))
