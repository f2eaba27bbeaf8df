"""The training data feed: fixed-length windows of a token stream, in a seeded order,
split into global batches, rank slices and micro batches.

Windows: window ``w`` is ``tokens[w * seq_len : w * seq_len + seq_len + 1]`` (``seq_len + 1``
tokens, neighbours share one boundary token), so every token is a target exactly once per
epoch; the trainer takes ``inputs = window[:-1]`` and ``targets = window[1:]``
(:attr:`Batch.inputs`, :attr:`Batch.targets`).

Order: epoch ``e`` visits the windows in a permutation that is a pure function of
``(seed, e)``. Global batch ``i`` of epoch ``e`` is windows ``perm[i*G:(i+1)*G]``; the
``n_windows % G`` windows left over are skipped that epoch (a different few each epoch).
Rank ``r`` of ``world_size`` takes the ``r``-th of ``world_size`` equal contiguous slices of
the global batch, cut into micro batches of ``micro_batch`` windows. So 1 rank and N ranks
see the same global batches, and ``position = (epoch, global batch index)`` alone resumes
the stream exactly.

    feed = DataFeed(cache.split("train"), seq_len=256, micro_batch=8, global_batch=64, seed=1337)
    for batch in feed.batches(rank, world_size):
        loss = model(batch.inputs, batch.targets) / batch.accum_steps
        ...
        if batch.last:          # the global batch is complete: optimizer step
            optimizer.step()
            checkpoint["data"] = feed.state_dict()

The order and the position are :class:`Schedule`'s, which knows nothing of windows: it
hands out item indices, so any list of items (the SFT examples of
:class:`codex_data.pipeline.SFTSource`) is visited the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from codex_core.errors import CodexError

Indices = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class Slot:
    """The items of one micro batch for one rank.

    :ivar items: the item indices (``micro_batch`` of them), in order.
    :ivar epoch: the epoch; :ivar index: the global batch index within the epoch.
    :ivar micro: this micro batch's index within the rank's slice (0 .. accum_steps-1).
    :ivar accum_steps: micro batches per global batch per rank.
    """

    items: Indices
    epoch: int
    index: int
    micro: int
    accum_steps: int

    @property
    def last(self) -> bool:
        """True on the rank's last micro batch of the global batch (time to step)."""
        return self.micro == self.accum_steps - 1


class Schedule:
    """Which of ``n_items`` items each rank takes, micro batch by micro batch: the order
    and position of the module docstring, over item indices.

    :param resume_keys: what a saved state must agree on to be resumed (the seed, the batch,
        the data size...), in the order :meth:`state_dict` lists them after the position.
    :param what: the thing resumed, for the error message (``"the data feed"``).
    """

    def __init__(self, n_items: int, micro_batch: int, global_batch: int, seed: int, *,
                 resume_keys: Mapping[str, Any], what: str) -> None:
        self.n_items = n_items
        self.micro_batch = micro_batch
        self.global_batch = global_batch
        self.seed = int(seed)
        self.steps_per_epoch = n_items // global_batch
        self.resume_keys = dict(resume_keys)
        self.what = what
        self.position: tuple[int, int] = (0, 0)

    def order(self, epoch: int) -> Indices:
        """The item indices of an epoch, in visiting order: a function of (seed, epoch)."""
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, epoch])))
        return rng.permutation(self.n_items)

    def accum_steps(self, world_size: int) -> int:
        if world_size < 1 or self.global_batch % (self.micro_batch * world_size):
            raise CodexError(f"global_batch ({self.global_batch}) must be a multiple of "
                             f"micro_batch x world_size ({self.micro_batch} x {world_size})")
        return self.global_batch // (self.micro_batch * world_size)

    def slots(self, rank: int = 0, world_size: int = 1,
              position: tuple[int, int] | None = None) -> Iterator[Slot]:
        """Micro batches of item indices for ``rank`` from ``position`` (default:
        :attr:`position`), endlessly, rolling over epochs. :attr:`position` advances to the
        next global batch when the rank's last micro batch of one is handed out."""
        accum = self.accum_steps(world_size)
        if not 0 <= rank < world_size:
            raise CodexError(f"rank {rank} is outside world_size {world_size}")
        epoch, first = self.check_position(position if position is not None else self.position)
        self.position = (epoch, first)
        return self._generate(rank, world_size, accum, epoch, first)

    def _generate(self, rank: int, world_size: int, accum: int, epoch: int,
                  first: int) -> Iterator[Slot]:
        per_rank = self.global_batch // world_size
        while True:
            order = self.order(epoch)
            for index in range(first, self.steps_per_epoch):
                start = index * self.global_batch + rank * per_rank
                mine = order[start:start + per_rank]
                for micro in range(accum):
                    slot = Slot(mine[micro * self.micro_batch:(micro + 1) * self.micro_batch], epoch, index,
                                micro, accum)
                    if slot.last:
                        self.position = self._advance(epoch, index)
                    yield slot
            epoch, first = epoch + 1, 0

    def _advance(self, epoch: int, index: int) -> tuple[int, int]:
        return (epoch, index + 1) if index + 1 < self.steps_per_epoch else (epoch + 1, 0)

    def check_position(self, position: tuple[int, int]) -> tuple[int, int]:
        epoch, index = (int(p) for p in position)
        if epoch < 0 or not 0 <= index < self.steps_per_epoch:
            raise CodexError(f"data position {position} is outside the data: an epoch has "
                             f"{self.steps_per_epoch} global batches")
        return epoch, index

    def state_dict(self) -> dict[str, Any]:
        """The position and what it is relative to (a resumed schedule must agree)."""
        epoch, index = self.position
        return {"epoch": epoch, "index": index, **self.resume_keys}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume at ``state``'s position. Every resume key must match, or the same position
        would name other items."""
        for name, now in self.resume_keys.items():
            if state.get(name) != now:
                raise CodexError(f"cannot resume {self.what}: {name} was {state.get(name)!r}, now {now!r}")
        self.position = self.check_position((state["epoch"], state["index"]))


def global_batch_size(trainer: Any, world_size: int = 1) -> int:
    """A ``TrainerConfig``'s global batch: ``global_batch_size``, by default micro x
    world_size x ``grad_accum_steps``."""
    return int(trainer.global_batch_size or trainer.micro_batch_size * world_size * (trainer.grad_accum_steps or 1))


@dataclass(frozen=True)
class Batch:
    """One micro batch for one rank.

    :ivar tokens: int64 array of shape ``(micro_batch, seq_len + 1)``.
    :ivar epoch: the epoch; :ivar index: the global batch index within the epoch.
    :ivar micro: this micro batch's index within the rank's slice (0 .. accum_steps-1).
    :ivar accum_steps: micro batches per global batch per rank.
    """

    tokens: np.ndarray[Any, np.dtype[np.int64]]
    epoch: int
    index: int
    micro: int
    accum_steps: int

    @property
    def inputs(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        return self.tokens[:, :-1]

    @property
    def targets(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        return self.tokens[:, 1:]

    @property
    def last(self) -> bool:
        """True on the rank's last micro batch of the global batch (time to step)."""
        return self.micro == self.accum_steps - 1


class DataFeed:
    """Batches of windows from a 1-D token array (an ``np.memmap``, a ``ConcatArray``,
    anything with ``len`` and contiguous slicing)."""

    def __init__(self, tokens: Any, seq_len: int, micro_batch: int, global_batch: int,
                 seed: int) -> None:
        if seq_len < 1 or micro_batch < 1 or global_batch < 1:
            raise CodexError(f"seq_len ({seq_len}), micro_batch ({micro_batch}) and "
                             f"global_batch ({global_batch}) must be at least 1")
        if global_batch % micro_batch:
            raise CodexError(f"global_batch ({global_batch}) must be a multiple of "
                             f"micro_batch ({micro_batch})")
        n_tokens = len(tokens)
        if n_tokens < seq_len + 1:
            raise CodexError(f"the data has {n_tokens} tokens, too few for one window of "
                             f"seq_len + 1 = {seq_len + 1}", hint="use a shorter seq_len or more data")
        self.tokens = tokens
        self.seq_len = seq_len
        self.micro_batch = micro_batch
        self.global_batch = global_batch
        self.seed = int(seed)
        self.n_windows = (n_tokens - 1) // seq_len
        if self.n_windows < global_batch:
            raise CodexError(f"the data has {self.n_windows} windows of seq_len {seq_len}, fewer "
                             f"than one global batch ({global_batch} windows)",
                             hint="use a smaller global batch or seq_len, or more data")
        self.schedule = Schedule(self.n_windows, micro_batch, global_batch, self.seed, what="the data feed",
                                 resume_keys={"seed": self.seed, "seq_len": seq_len, "global_batch": global_batch,
                                              "n_windows": self.n_windows})
        self.steps_per_epoch = self.schedule.steps_per_epoch

    @classmethod
    def from_config(cls, tokens: Any, trainer: Any, world_size: int = 1, seed: int = 0) -> DataFeed:
        """A feed for a ``TrainerConfig``: its ``seq_len`` and ``micro_batch_size``, and a
        global batch of ``global_batch_size`` windows (default: micro x world_size x
        ``grad_accum_steps``, which must agree when both are set)."""
        accum = trainer.grad_accum_steps
        global_batch = global_batch_size(trainer, world_size)
        feed = cls(tokens, trainer.seq_len, trainer.micro_batch_size, global_batch, seed)
        if accum is not None and feed.accum_steps(world_size) != accum:
            raise CodexError(f"global_batch_size {global_batch} = micro_batch_size x world_size x "
                             f"grad_accum_steps does not hold ({trainer.micro_batch_size} x "
                             f"{world_size} x {accum})")
        return feed

    @property
    def position(self) -> tuple[int, int]:
        """``(epoch, global batch index)`` of the next global batch."""
        return self.schedule.position

    @position.setter
    def position(self, position: tuple[int, int]) -> None:
        self.schedule.position = self.schedule.check_position(position)

    def order(self, epoch: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The window indices of an epoch, in visiting order: a function of (seed, epoch)."""
        return self.schedule.order(epoch)

    def window(self, w: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        start = w * self.seq_len
        return np.asarray(self.tokens[start:start + self.seq_len + 1], dtype=np.int64)

    def accum_steps(self, world_size: int) -> int:
        return self.schedule.accum_steps(world_size)

    def batches(self, rank: int = 0, world_size: int = 1,
                position: tuple[int, int] | None = None) -> Iterator[Batch]:
        """Micro batches for ``rank`` from ``position`` (default: :attr:`position`, which
        ``load_state_dict`` sets), endlessly, rolling over epochs.

        :attr:`position` advances to the next global batch when the rank's last micro batch
        of a global batch is handed out, so ``state_dict()`` taken after the optimizer step
        resumes with the next global batch and never replays one. Use one iterator per feed
        (they share :attr:`position`)."""
        slots = self.schedule.slots(rank, world_size, position)
        return (Batch(np.stack([self.window(int(w)) for w in s.items]), s.epoch, s.index, s.micro, s.accum_steps)
                for s in slots)

    def state_dict(self) -> dict[str, Any]:
        """The position and what it is relative to (a resumed feed must agree)."""
        return self.schedule.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume at ``state``'s position. The seed, seq_len, global batch and data size
        must match, or the same position would name other windows."""
        self.schedule.load_state_dict(state)
