"""The launcher behind ``codex train --nproc N`` (and ``--nnodes N --node-rank R
--rdzv-endpoint HOST:PORT`` on each of several machines) and the entry point of each
training process it starts (``python -m codex_models.training ARGS``).

:func:`launch` runs torchrun's agent in this process (one node: a free port; several: torch's
static rendezvous, as plain torchrun does, so the two can be mixed). Each worker
(:func:`worker_main`) runs ``codex train ARGS``; a user error on one rank is written as one
line to the launcher's folder instead of the terminal, torchrun's agent stops the other
workers, and the launcher prints the error once. A worker of a multi-process run ends with
:func:`end_process`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from codex_core.errors import CodexError
from codex_models.training.parallel import PeerError

log = logging.getLogger("codex.train")
ERRORS_ENV = "CODEX_DIST_ERRORS"  # where workers started by :func:`launch` write their error line


def launch(nproc: int, args: list[str], *, nnodes: int = 1, node_rank: int = 0, endpoint: str | None = None,
           timeout: int = 300) -> int:
    """Run ``python -m codex_models.training ARGS`` in ``nproc`` processes on this machine and
    return the exit status: 0, or the status of the failed worker whose error is printed, once,
    as one line.

    One node (``nnodes`` 1): torchrun's standalone mode, a free port. Several: this is node
    ``node_rank`` of ``nnodes``, joined through torch's static rendezvous at ``endpoint``
    (``HOST:PORT``; node 0 listens there), as ``torchrun --nnodes N --node-rank R
    --rdzv-endpoint HOST:PORT`` does, so the node's ranks are ``R*nproc .. R*nproc+nproc-1``.
    Waiting for the other nodes to join gives up after ``timeout`` seconds (``trainer.dist_timeout``)
    with one line.

    ``OMP_NUM_THREADS`` defaults to the CPU cores divided among the processes. The workers run
    in their own sessions: torchrun's agent passes Ctrl-C or SIGTERM on to them (they finish
    the step and write a checkpoint; it waits up to 30 s), and the status is 128 + the signal."""
    # The agent's TCPStore prints C++ errors with stack frames (a node 0 that cannot be reached)
    # besides raising them: for this process only (torch reads this once, as it loads), codex
    # prints the error as one line. The training processes keep torch's default.
    quiet = "torch" not in sys.modules and "TORCH_CPP_LOG_LEVEL" not in os.environ
    if quiet:
        os.environ["TORCH_CPP_LOG_LEVEL"] = "FATAL"
    try:
        from torch.distributed.elastic.multiprocessing.api import SignalException
        from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
        from torch.distributed.launcher.api import LaunchConfig, elastic_launch
    finally:
        if quiet:
            os.environ.pop("TORCH_CPP_LOG_LEVEL")

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cores // nproc)))
    if nnodes > 1:
        if endpoint is None:
            raise CodexError("a run on several nodes needs the rendezvous endpoint",
                             hint="add --rdzv-endpoint HOST:PORT")
        # Every node must name the run alike (the rendezvous keys are prefixed with it): torchrun's
        # default --rdzv-id, so a node started with plain torchrun joins too.
        rendezvous: dict[str, Any] = {"run_id": "none", "rdzv_backend": "static", "rdzv_endpoint": endpoint,
                                      "rdzv_configs": {"rank": node_rank, "timeout": timeout}}
    else:
        rendezvous = {"run_id": f"codex-{os.getpid()}", "rdzv_backend": "c10d", "rdzv_endpoint": "localhost:0",
                      "rdzv_configs": {"join_timeout": timeout, "timeout": timeout}}
    # The agent's own reports (a failed worker, a signal received): codex prints one line.
    with _quiet_loggers("torch.distributed.elastic"), tempfile.TemporaryDirectory(prefix="codex-dist-") as errors:
        os.environ[ERRORS_ENV] = errors
        config = LaunchConfig(min_nodes=nnodes, max_nodes=nnodes, nproc_per_node=nproc, max_restarts=0,
                              monitor_interval=0.1, **rendezvous)
        try:
            elastic_launch(config, entrypoint=sys.executable)("-m", "codex_models.training", *args)
            return 0
        except ChildFailedError as exc:
            line, code = _worker_error(Path(errors), exc.failures)
            if line:
                print(line, file=sys.stderr, flush=True)
            return code
        except SignalException as exc:  # the workers were stopped with the same signal
            if nnodes > 1 and endpoint is not None:
                _leave_exit_barrier(endpoint, nnodes, str(config.run_id))
            return 128 + int(exc.sigval)
        except _rendezvous_errors() as exc:
            raise _rendezvous_failed(exc, nnodes, node_rank, endpoint, timeout) from None
        finally:
            os.environ.pop(ERRORS_ENV, None)


def _leave_exit_barrier(endpoint: str, nnodes: int, run_id: str) -> None:
    """Check this node in at the agents' exit barrier on its way out after a signal.

    The signal stopped this node's training processes after a checkpoint, and, through the
    run's stop request, every other node's at the same step; their agents then wait at an
    exit barrier for every node's agent, which torch's agent skips when it is stopped by a
    signal. Checking in (without waiting) lets them end at once instead of after the
    barrier's 300 s. Node 0's store may be gone already (it was this node, or it ended):
    then nobody is waiting."""
    from datetime import timedelta

    from torch.distributed import DistError, PrefixStore, TCPStore
    from torch.distributed.elastic.agent.server.api import _TERMINAL_STATE_SYNC_ID
    from torch.distributed.elastic.utils.store import _barrier_nonblocking

    host, _, port = endpoint.rpartition(":")
    try:
        store = TCPStore(host.strip("[]"), int(port), is_master=False, timeout=timedelta(seconds=5))
        _barrier_nonblocking(PrefixStore(run_id, store), nnodes, _TERMINAL_STATE_SYNC_ID)
    except DistError as exc:
        log.debug("no exit barrier to check in at on %s: %s", endpoint, str(exc).splitlines()[0] if str(exc) else exc)


def _rendezvous_errors() -> tuple[type[BaseException], ...]:
    """What the agent raises when the nodes cannot meet: a store that is not reachable or
    timed out, a port already in use, a rendezvous that was closed."""
    from torch.distributed import DistError
    from torch.distributed.elastic.rendezvous import RendezvousError

    return (DistError, RendezvousError)


def _rendezvous_failed(exc: BaseException, nnodes: int, node_rank: int, endpoint: str | None,
                       timeout: int) -> CodexError:
    """The one line for nodes that did not meet."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160].rstrip(".")
    if nnodes == 1:
        return CodexError(f"torchrun could not start the training processes ({reason})")
    return CodexError(f"node {node_rank} of {nnodes}: the nodes did not meet at {endpoint} within "
                      f"trainer.dist_timeout ({timeout} s) ({reason})",
                      hint="start every node with the same --nnodes and --rdzv-endpoint (node 0's address, and a "
                           "port free there) within the timeout")


@contextmanager
def _quiet_loggers(prefix: str) -> Iterator[None]:
    """Logger ``prefix`` and every logger below it that exists now at level CRITICAL for
    the block (torch's elastic modules set their own loggers' levels, so the parent's level
    alone does not reach them)."""
    names = [prefix, *(n for n in logging.Logger.manager.loggerDict if n.startswith(prefix + "."))]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _worker_error(errors: Path, failures: dict[int, Any]) -> tuple[str, int]:
    """The line to print for a failed launch and the exit status: the user error of the
    lowest rank that had one; else the error of the rank that failed first (``failures`` is
    keyed by global rank, as the reports are); else an error a rank reported because another
    one failed (a peer that is gone); else the first failure's exit status."""
    reports = {}
    for path in errors.glob("rank-*.json"):
        report = json.loads(path.read_text(encoding="utf-8"))
        reports[int(report["rank"])] = report
    users = [reports[r] for r in sorted(reports) if reports[r]["user"] and not reports[r]["peer"]]
    if users:
        return users[0]["line"], int(users[0]["code"])
    order = sorted(failures, key=lambda rank: failures[rank].timestamp)
    ranked = sorted(reports.values(), key=lambda r: (r["peer"], order.index(r["rank"]) if r["rank"] in order
                                                     else len(order), r["rank"]))
    if ranked:
        line = ranked[0]["line"]
        killed = [r for r in order if r not in reports and failures[r].exitcode < 0]
        if ranked[0]["peer"] and killed and line.startswith("error: "):  # say which process went, and how
            name = signal.Signals(-failures[killed[0]].exitcode).name
            line = f"error: training process {killed[0]} was killed by {name}; {line[len('error: '):]}"
        return line, int(ranked[0]["code"])
    first = failures[order[0]] if order else None
    code = first.exitcode if first is not None else 1
    if code in (130, 143):  # a worker stopped by Ctrl-C or SIGTERM after its checkpoint: it said so
        return "", code
    return (f"internal error: training process {order[0] if order else '?'} exited with status {code}",
            code if code > 0 else 1)


def worker_main(args: list[str]) -> NoReturn:
    """The entry point of one training process (``python -m codex_models.training ARGS``):
    ``codex train ARGS``. Started by :func:`launch`, it writes its error (one line, exit
    status) to the launcher's folder instead of printing it; started by a plain torchrun,
    it prints it like ``codex`` does. One of several processes ends with :func:`end_process`."""
    code = _run_worker(args)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        end_process(code)
    sys.exit(code)


def _run_worker(args: list[str]) -> int:
    import click

    from codex_core.cli import main as codex_main
    from codex_core.cli.app import cli, setup_logging

    errors = os.environ.get(ERRORS_ENV)
    if not errors:
        try:
            codex_main(["train", *args])
        except SystemExit as exc:
            return _exit_status(exc.code)
        return 0
    setup_logging(0, 0)
    rank = int(os.environ.get("RANK", "0"))
    try:
        cli.main(args=["train", *args], prog_name="codex", standalone_mode=False)
        return 0
    except CodexError as exc:
        report = {"line": f"error: {exc}", "code": exc.exit_code, "user": True, "peer": isinstance(exc, PeerError)}
    except click.ClickException as exc:
        report = {"line": f"error: {exc.format_message()}", "code": exc.exit_code, "user": True, "peer": False}
    except KeyboardInterrupt:
        report = {"line": "Interrupted.", "code": 130, "user": False, "peer": False}
    except SystemExit as exc:  # the run stopped by a signal: it said so, and exits 130/143
        return _exit_status(exc.code)
    except Exception as exc:
        if os.environ.get("CODEX_DEBUG", "") not in ("", "0"):
            import traceback

            traceback.print_exc()
        report = {"line": f"internal error: {type(exc).__name__}: {exc} (run with CODEX_DEBUG=1 for the traceback, "
                          "and report it with that output)", "code": 1, "user": False, "peer": False}
    (Path(errors) / f"rank-{rank}.json").write_text(json.dumps({**report, "rank": rank}), encoding="utf-8")
    return int(report["code"])


def _exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` would give."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def end_process(code: int) -> NoReturn:
    """Exit a training process with ``code`` once its work is done, without finalizing the
    interpreter.

    Gloo runs collectives on its own threads, and a thread may still be releasing the last
    collective's work, whose tensors refer to Python objects, after the main thread has moved
    on. If the interpreter is finalizing by then, that thread cannot take the GIL and the
    process aborts ("terminate called without an active exception", exit status -6) after a
    run that succeeded. Destroying the process group does not stop those threads while FSDP's
    and DTensor's caches still hold it. Everything the run writes is closed before this is
    called; here logging and the standard streams are flushed, then the process ends."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            continue  # the reader went away or the stream is closed: as for ``codex`` itself, not an error
    os._exit(code)


def main(argv: list[str] | None = None) -> NoReturn:
    """``python -m codex_models.training ARGS`` (what torchrun runs in each process)."""
    worker_main(sys.argv[1:] if argv is None else argv)
