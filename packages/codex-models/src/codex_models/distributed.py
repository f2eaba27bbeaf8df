"""torch.distributed for the training engine: the launcher behind ``codex train --nproc N``,
the process group from the torchrun environment, DDP or FSDP2 wrapping, reductions, and
full state dicts for checkpoints.

One process (no ``WORLD_SIZE`` in the environment) is world size 1 and every helper here
is a no-op, so the training loop reads the same with and without torchrun.

Errors: a user error raised on one rank must neither hang the others nor be printed once per
process. Work that rank 0 does first (:meth:`Dist.main_first`) hands its error to every rank;
under :func:`launch` each worker writes its one-line error to a file instead of the terminal
(:func:`worker_main`), torchrun's agent stops the other workers, and the launcher prints the
error once.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from codex_core.errors import CodexError

if TYPE_CHECKING:  # pragma: no cover
    import torch

Strategy = Literal["ddp", "fsdp"]

ERRORS_ENV = "CODEX_DIST_ERRORS"  # where workers started by :func:`launch` write their error line


class PeerError(CodexError):
    """Another rank failed doing work this rank was waiting for (its error is printed)."""


@dataclass
class Dist:
    """This process's place in the run."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        """Element-wise sums over the ranks (float64 on the CPU side of the backend)."""
        if not self.enabled:
            return list(values)
        import torch
        import torch.distributed as dist

        device = "cuda" if self.backend == "nccl" else "cpu"
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return [float(v) for v in tensor.tolist()]

    def broadcast_object(self, value: Any) -> Any:
        """``value`` of rank 0 on every rank."""
        if not self.enabled:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def main_first(self, build: Any) -> Any:
        """``build()`` on rank 0, then on the other ranks (e.g. a tokenizer or token cache
        that rank 0 trains or writes and the others then read from the cache). When rank 0
        fails, every other rank raises :class:`PeerError` with its message instead of
        waiting for it."""
        if not self.enabled:
            return build()
        if self.is_main:
            try:
                value = build()
            except BaseException as exc:
                self.broadcast_object(str(exc) or type(exc).__name__)
                raise
            self.broadcast_object(None)
            return value
        failed = self.broadcast_object(None)
        if failed is not None:
            raise PeerError(f"rank 0 failed: {failed}")
        return build()

    def all_gather_object(self, value: Any) -> list[Any]:
        """``value`` of every rank, by rank."""
        if not self.enabled:
            return [value]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is True on any rank (e.g. a stop request)."""
        return self.all_reduce_sum([1.0 if flag else 0.0])[0] > 0

    def shutdown(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def init_distributed(device: str) -> Dist:
    """Join the process group torchrun describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``/``PORT``): gloo on CPU, nccl on CUDA. Without them: one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Dist()
    import torch
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(rank=rank, local_rank=local_rank, world_size=world_size, backend=backend)


def launch(nproc: int, args: list[str]) -> int:
    """Run ``python -m codex_models.train ARGS`` in ``nproc`` processes on this machine
    (torchrun's standalone mode: a free port, one node) and return the exit status: 0, or
    the status of the failed worker whose error is printed, once, as one line.

    ``OMP_NUM_THREADS`` defaults to the CPU cores divided among the processes. The workers run
    in their own sessions: torchrun's agent passes Ctrl-C or SIGTERM on to them (they finish
    the step and write a checkpoint; it waits up to 30 s), and the status is 128 + the signal."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cores // nproc)))
    # The agent's own reports (a failed worker, a signal received): codex prints one line.
    with _quiet_loggers("torch.distributed.elastic"), tempfile.TemporaryDirectory(prefix="codex-dist-") as errors:
        os.environ[ERRORS_ENV] = errors
        config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"codex-{os.getpid()}",
                              rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.1)
        try:
            elastic_launch(config, entrypoint=sys.executable)("-m", "codex_models.train", *args)
            return 0
        except ChildFailedError as exc:
            line, code = _worker_error(Path(errors), exc.failures)
            if line:
                print(line, file=sys.stderr, flush=True)
            return code
        except SignalException as exc:  # the workers were stopped with the same signal
            return 128 + int(exc.sigval)
        finally:
            os.environ.pop(ERRORS_ENV, None)


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
    lowest rank that had one, else the first failure's error (or its exit status)."""
    reports = {}
    for path in errors.glob("rank-*.json"):
        report = json.loads(path.read_text(encoding="utf-8"))
        reports[int(report["rank"])] = report
    users = [reports[r] for r in sorted(reports) if reports[r]["user"] and not reports[r]["peer"]]
    users += [reports[r] for r in sorted(reports) if reports[r]["user"] and reports[r]["peer"]]
    if users:
        return users[0]["line"], int(users[0]["code"])
    first = min(failures.values(), key=lambda f: f.timestamp) if failures else None
    if first is not None and first.local_rank in reports:
        report = reports[first.local_rank]
        return report["line"], int(report["code"])
    code = first.exitcode if first is not None else 1
    if code in (130, 143):  # a worker stopped by Ctrl-C or SIGTERM after its checkpoint: it said so
        return "", code
    return (f"internal error: training process {first.local_rank if first else '?'} exited with status {code}",
            code if code > 0 else 1)


def worker_main(args: list[str]) -> NoReturn:
    """The entry point of one training process (``python -m codex_models.train ARGS``):
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


def wrap_model(model: torch.nn.Module, dist_ctx: Dist, strategy: Strategy, device: torch.device) -> torch.nn.Module:
    """DDP, or FSDP2 (``fully_shard`` on every transformer block, then the root) when
    ``strategy`` is ``fsdp``. World size 1: the model unchanged."""
    if not dist_ctx.enabled:
        return model
    if strategy == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for block in transformer_blocks(model):
            fully_shard(block)
        fully_shard(model)
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def transformer_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated blocks of a Hugging Face causal LM (the children of its largest
    ``ModuleList``): the units FSDP shards one at a time."""
    import torch

    lists = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList)]
    if not lists:
        raise CodexError(f"FSDP: found no transformer blocks (no ModuleList) in {type(model).__name__}",
                         hint="use trainer.distributed=ddp")
    return list(max(lists, key=len))


def no_sync(model: torch.nn.Module, strategy: Strategy, sync: bool) -> AbstractContextManager[Any]:
    """Skip the gradient all-reduce on micro batches before the last of a step."""
    if sync:
        if strategy == "fsdp" and hasattr(model, "set_requires_gradient_sync"):
            model.set_requires_gradient_sync(True)
        return nullcontext()
    if strategy == "fsdp" and hasattr(model, "set_requires_gradient_sync"):
        model.set_requires_gradient_sync(False)
        return nullcontext()
    if hasattr(model, "no_sync"):
        return model.no_sync()  # type: ignore[no-any-return]
    return nullcontext()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP wrapper (FSDP2 shards in place: the model itself)."""
    return getattr(model, "module", model)


def full_state_dicts(model: torch.nn.Module, optimizer: Any, strategy: Strategy, dist_ctx: Dist) -> tuple[Any, Any]:
    """``(model_state, optimizer_state)``, unsharded. With FSDP every rank must call it
    (it gathers); the result is complete on rank 0."""
    if dist_ctx.enabled and strategy == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        return get_state_dict(model, optimizer, options=options)
    return unwrap(model).state_dict(), optimizer.state_dict()


def load_full_state_dicts(model: torch.nn.Module, optimizer: Any, model_state: Any, optim_state: Any,
                          strategy: Strategy, dist_ctx: Dist) -> None:
    """Load unsharded states (as :func:`full_state_dicts` gives them) into the wrapped model."""
    if dist_ctx.enabled and strategy == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

        set_state_dict(model, optimizer, model_state_dict=model_state, optim_state_dict=optim_state,
                       options=StateDictOptions(full_state_dict=True))
        return
    if model_state is not None:
        unwrap(model).load_state_dict(model_state)
    optimizer.load_state_dict(optim_state)
