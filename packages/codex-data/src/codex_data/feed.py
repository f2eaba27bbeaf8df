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
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from codex_core.errors import CodexError


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
        self.steps_per_epoch = self.n_windows // global_batch
        self.position: tuple[int, int] = (0, 0)

    @classmethod
    def from_config(cls, tokens: Any, trainer: Any, world_size: int = 1, seed: int = 0) -> DataFeed:
        """A feed for a ``TrainerConfig``: its ``seq_len`` and ``micro_batch_size``, and a
        global batch of ``global_batch_size`` windows (default: micro x world_size x
        ``grad_accum_steps``, which must agree when both are set)."""
        accum = trainer.grad_accum_steps
        global_batch = trainer.global_batch_size or trainer.micro_batch_size * world_size * (accum or 1)
        feed = cls(tokens, trainer.seq_len, trainer.micro_batch_size, global_batch, seed)
        if accum is not None and feed.accum_steps(world_size) != accum:
            raise CodexError(f"global_batch_size {global_batch} = micro_batch_size x world_size x "
                             f"grad_accum_steps does not hold ({trainer.micro_batch_size} x "
                             f"{world_size} x {accum})")
        return feed

    def order(self, epoch: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The window indices of an epoch, in visiting order: a function of (seed, epoch)."""
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, epoch])))
        return rng.permutation(self.n_windows)

    def window(self, w: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        start = w * self.seq_len
        return np.asarray(self.tokens[start:start + self.seq_len + 1], dtype=np.int64)

    def accum_steps(self, world_size: int) -> int:
        if world_size < 1 or self.global_batch % (self.micro_batch * world_size):
            raise CodexError(f"global_batch ({self.global_batch}) must be a multiple of "
                             f"micro_batch x world_size ({self.micro_batch} x {world_size})")
        return self.global_batch // (self.micro_batch * world_size)

    def batches(self, rank: int = 0, world_size: int = 1,
                position: tuple[int, int] | None = None) -> Iterator[Batch]:
        """Micro batches for ``rank`` from ``position`` (default: :attr:`position`, which
        ``load_state_dict`` sets), endlessly, rolling over epochs.

        :attr:`position` advances to the next global batch when the rank's last micro batch
        of a global batch is handed out, so ``state_dict()`` taken after the optimizer step
        resumes with the next global batch and never replays one. Use one iterator per feed
        (they share :attr:`position`)."""
        accum = self.accum_steps(world_size)
        if not 0 <= rank < world_size:
            raise CodexError(f"rank {rank} is outside world_size {world_size}")
        epoch, first = self._check_position(position if position is not None else self.position)
        self.position = (epoch, first)
        return self._generate(rank, world_size, accum, epoch, first)

    def _generate(self, rank: int, world_size: int, accum: int, epoch: int,
                  first: int) -> Iterator[Batch]:
        per_rank = self.global_batch // world_size
        while True:
            order = self.order(epoch)
            for index in range(first, self.steps_per_epoch):
                start = index * self.global_batch + rank * per_rank
                mine = order[start:start + per_rank]
                for micro in range(accum):
                    rows = mine[micro * self.micro_batch:(micro + 1) * self.micro_batch]
                    batch = Batch(np.stack([self.window(int(w)) for w in rows]), epoch, index,
                                  micro, accum)
                    if batch.last:
                        self.position = self._advance(epoch, index)
                    yield batch
            epoch, first = epoch + 1, 0

    def _advance(self, epoch: int, index: int) -> tuple[int, int]:
        return (epoch, index + 1) if index + 1 < self.steps_per_epoch else (epoch + 1, 0)

    def _check_position(self, position: tuple[int, int]) -> tuple[int, int]:
        epoch, index = (int(p) for p in position)
        if epoch < 0 or not 0 <= index < self.steps_per_epoch:
            raise CodexError(f"data position {position} is outside the data: an epoch has "
                             f"{self.steps_per_epoch} global batches")
        return epoch, index

    def state_dict(self) -> dict[str, Any]:
        """The position and what it is relative to (a resumed feed must agree)."""
        epoch, index = self.position
        return {"epoch": epoch, "index": index, "seed": self.seed, "seq_len": self.seq_len,
                "global_batch": self.global_batch, "n_windows": self.n_windows}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume at ``state``'s position. The seed, seq_len, global batch and data size
        must match, or the same position would name other windows."""
        for name in ("seed", "seq_len", "global_batch", "n_windows"):
            if state.get(name) != getattr(self, name):
                raise CodexError(f"cannot resume the data feed: {name} was {state.get(name)!r}, "
                                 f"now {getattr(self, name)!r}")
        self.position = self._check_position((state["epoch"], state["index"]))
