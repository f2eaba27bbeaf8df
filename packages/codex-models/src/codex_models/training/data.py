"""What the training loop eats: micro batches of token ids with aligned targets.

Two sources, one interface:

* :class:`LMData`: a token cache (codex-data) cut into windows by ``DataFeed``: packed
  language-model training, every position a target.
* :class:`SFTData`: an ``sft-jsonl``-style dataset (one that has ``examples(tokenizer)``):
  one example per row, padded, never packed; only assistant/completion tokens are targets.

``targets[:, t]`` is the token that should follow ``input_ids[:, t]`` (already shifted),
``-100`` where there is none, so the loss is one ``cross_entropy`` over the logits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from codex_core.errors import CodexError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from codex_core.config import TrainerConfig

IGNORE_INDEX = -100


@dataclass
class MicroBatch:
    input_ids: torch.Tensor
    targets: torch.Tensor
    attention_mask: torch.Tensor | None = None

    @property
    def n_targets(self) -> int:
        return int((self.targets != IGNORE_INDEX).sum())


class LMData:
    """Windows of a token cache's ``train`` split (shuffled per epoch, resumable) and of its
    ``val`` split (a fixed order, for evaluation)."""

    def __init__(self, cache: Any, trainer: TrainerConfig, world_size: int, seed: int) -> None:
        from codex_data.feed import DataFeed

        self.cache = cache
        self.feed = DataFeed.from_config(cache.split("train"), trainer, world_size=world_size, seed=seed)
        self.accum_steps = self.feed.accum_steps(world_size)
        self.tokens_per_step = self.feed.global_batch * self.feed.seq_len
        self.micro_batch, self.seq_len, self.seed = trainer.micro_batch_size, trainer.seq_len, seed
        val = cache.split("val") if "val" in cache.manifest.splits else np.zeros(0)
        self.val_windows = (len(val) - 1) // self.seq_len if len(val) > self.seq_len else 0
        self.val = val

    def train_batches(self, rank: int, world_size: int) -> Iterator[MicroBatch]:
        for batch in self.feed.batches(rank, world_size):
            yield _lm_batch(batch.tokens)

    def eval_batches(self, rank: int, world_size: int, n_batches: int) -> list[MicroBatch]:
        """This rank's share of the first ``n_batches x micro_batch`` val windows, in order
        (the same windows every evaluation, whatever the world size); fewer when the val split
        is small, none when it is empty."""
        total = min(self.val_windows, n_batches * self.micro_batch)
        mine = list(range(rank, total, world_size))
        out = []
        for i in range(0, len(mine), self.micro_batch):
            rows = [np.asarray(self.val[w * self.seq_len:w * self.seq_len + self.seq_len + 1], dtype=np.int64)
                    for w in mine[i:i + self.micro_batch]]
            out.append(_lm_batch(np.stack(rows)))
        return out

    def state_dict(self) -> dict[str, Any]:
        return self.feed.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.feed.load_state_dict(state)

    @property
    def global_batch(self) -> int:
        return self.feed.global_batch


def _lm_batch(tokens: np.ndarray[Any, Any]) -> MicroBatch:
    import torch

    window = torch.from_numpy(tokens)
    return MicroBatch(window[:, :-1], window[:, 1:])


class SFTData:
    """Examples of an SFT dataset, tokenized once: shuffled per epoch by ``(seed, epoch)``,
    ``global_batch`` examples a step split evenly over the ranks, each micro batch padded to
    its longest example (cut at ``seq_len``)."""

    def __init__(self, dataset: Any, tokenizer: Any, trainer: TrainerConfig, world_size: int, seed: int,
                 val_fraction: float) -> None:
        examples = list(dataset.examples(tokenizer, max_length=trainer.seq_len))
        if not examples:
            raise CodexError("the SFT dataset has no examples with a target token",
                             hint="check the dataset's files and its prompt/completion fields")
        n_val = round(len(examples) * val_fraction) if len(examples) > 1 else 0
        order = np.random.Generator(np.random.PCG64(seed)).permutation(len(examples))
        self.val_examples = [examples[i] for i in order[:n_val]]
        self.train_examples = [examples[i] for i in order[n_val:]]
        self.micro_batch, self.seed = trainer.micro_batch_size, seed
        self.global_batch = trainer.global_batch_size or trainer.micro_batch_size * world_size * (
            trainer.grad_accum_steps or 1)
        if self.global_batch % (self.micro_batch * world_size):
            raise CodexError(f"global_batch_size ({self.global_batch}) must be a multiple of micro_batch_size x "
                             f"world size ({self.micro_batch} x {world_size})")
        if len(self.train_examples) < self.global_batch:
            raise CodexError(f"the SFT dataset has {len(self.train_examples)} training examples, fewer than one "
                             f"global batch ({self.global_batch})", hint="use a smaller batch or more examples")
        self.accum_steps = self.global_batch // (self.micro_batch * world_size)
        self.steps_per_epoch = len(self.train_examples) // self.global_batch
        self.tokens_per_step = self.global_batch * trainer.seq_len  # an upper bound (padding)
        self.pad_id = int(tokenizer.special_tokens.get("pad", tokenizer.special_tokens.get("eos", 0)))
        self.position = (0, 0)

    def _order(self, epoch: int) -> np.ndarray[Any, Any]:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, epoch])))
        return rng.permutation(len(self.train_examples))

    def train_batches(self, rank: int, world_size: int) -> Iterator[MicroBatch]:
        epoch, first = self.position
        per_rank = self.global_batch // world_size
        while True:
            order = self._order(epoch)
            for index in range(first, self.steps_per_epoch):
                start = index * self.global_batch + rank * per_rank
                mine = order[start:start + per_rank]
                for micro in range(self.accum_steps):
                    rows = mine[micro * self.micro_batch:(micro + 1) * self.micro_batch]
                    if micro == self.accum_steps - 1:
                        self.position = (epoch, index + 1) if index + 1 < self.steps_per_epoch else (epoch + 1, 0)
                    yield self._batch([self.train_examples[int(i)] for i in rows])
            epoch, first = epoch + 1, 0

    def eval_batches(self, rank: int, world_size: int, n_batches: int) -> list[MicroBatch]:
        mine = self.val_examples[: n_batches * self.micro_batch][rank::world_size]
        return [self._batch(mine[i:i + self.micro_batch]) for i in range(0, len(mine), self.micro_batch)]

    def _batch(self, examples: list[Any]) -> MicroBatch:
        import torch

        from codex_data.sft import pad_examples

        padded = pad_examples(examples, self.pad_id)
        ids = torch.tensor(padded["input_ids"], dtype=torch.long)
        labels = torch.tensor(padded["labels"], dtype=torch.long)
        targets = torch.full_like(labels, IGNORE_INDEX)
        targets[:, :-1] = labels[:, 1:]
        return MicroBatch(ids, targets, torch.tensor(padded["attention_mask"], dtype=torch.long))

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.position[0], "index": self.position[1], "seed": self.seed,
                "global_batch": self.global_batch, "n_examples": len(self.train_examples)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, now in (("seed", self.seed), ("global_batch", self.global_batch),
                          ("n_examples", len(self.train_examples))):
            if state.get(name) != now:
                raise CodexError(f"cannot resume the SFT data: {name} was {state.get(name)!r}, now {now!r}")
        self.position = (int(state["epoch"]), int(state["index"]))


def unigram_entropy(tokens: Any, vocab_size: int) -> float:
    """Entropy (nats per token) of the token frequencies of ``tokens``: the loss of a model
    that learns only how often each token occurs."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    step = 1 << 22
    for start in range(0, len(tokens), step):
        counts += np.bincount(np.asarray(tokens[start:start + step], dtype=np.int64), minlength=vocab_size)[
            :vocab_size]
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())
