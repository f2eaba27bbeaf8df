"""torch.distributed inside a training process: the process group from the torchrun
environment, DDP or FSDP2 wrapping, reductions, and full state dicts for checkpoints
(the launcher that starts the processes is :mod:`codex_models.training.launch`).

One process (no ``WORLD_SIZE`` in the environment) is world size 1 and every helper here
is a no-op, so the training loop reads the same with and without torchrun.

Errors: a user error raised on one rank must neither hang the others nor be printed once per
process. Work that rank 0 does first (:meth:`Dist.main_first`) hands its error to every rank;
the launcher's workers report errors as :mod:`codex_models.training.launch` describes. When
another process is gone or silent (a lost or hung node), the backend's error becomes one line
(:func:`lost_peer`) naming the step and the checkpoint to resume from.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codex_core.errors import CodexError

if TYPE_CHECKING:  # pragma: no cover
    import torch

Strategy = Literal["ddp", "fsdp"]


class PeerError(CodexError):
    """Another rank failed doing work this rank was waiting for (its error is printed)."""


class LostPeerError(PeerError):
    """Another process of the run is gone (its node was lost, its connection closed) or silent
    for ``trainer.dist_timeout`` seconds (a hung node)."""


def lost_peer(exc: BaseException, dist_ctx: Dist, step: int, checkpoints: Path) -> LostPeerError | None:
    """The one-line error for ``exc`` when it is the backend's report that another process of
    the run is gone or silent (a ``torch.distributed.DistError``, or gloo's transport failing:
    "Connection closed by peer", "Timed out waiting ... for recv"); None for any other error.

    It names the step this process was at and the newest complete checkpoint in
    ``checkpoints`` (what ``--resume auto`` continues from)."""
    if not dist_ctx.enabled or not isinstance(exc, RuntimeError):
        return None
    from torch.distributed import DistError

    text = str(exc)
    if not isinstance(exc, DistError) and "/gloo/transport/" not in text:
        return None
    from codex_models.training.checkpoint import latest_checkpoint

    first = (text.strip().splitlines() or [type(exc).__name__])[0]
    reason = first.split("] ", 1)[1] if first.startswith("[") and "] " in first else first  # drop gloo's source path
    reason = reason.split(". ", 1)[0]  # gloo goes on with advice that does not apply here
    info = latest_checkpoint(checkpoints)
    last = f"the last checkpoint is {info.path.name}" if info is not None else "there is no checkpoint yet"
    return LostPeerError(f"lost contact with another process of the run at step {step} ({reason[:160]}); {last}",
                         hint="start every node again with --resume auto")


@dataclass
class Dist:
    """This process's place in the run."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None
    nnodes: int = 1
    """Machines in the run (torchrun's agents, ``GROUP_WORLD_SIZE``)."""

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


def init_distributed(device: str, timeout: float = 300) -> Dist:
    """Join the process group torchrun describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``/``PORT``): gloo on CPU, nccl on CUDA. Without them: one process.

    ``timeout`` (seconds, ``trainer.dist_timeout``) bounds joining the group and every
    collective, so a hung peer stops this process with an error instead of holding it for
    torch's 30-minute default."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Dist()
    from datetime import timedelta

    import torch
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout))
    nnodes = int(os.environ.get("GROUP_WORLD_SIZE", "1"))
    return Dist(rank=rank, local_rank=local_rank, world_size=world_size, backend=backend, nnodes=nnodes)


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
