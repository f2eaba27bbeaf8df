"""What the training loop eats: micro batches of token ids with aligned targets, as tensors.

The batches come from codex-data's pipeline (``codex_data.open_pipeline``) as numpy arrays
with a resumable state, from one of two sources:

* a token cache cut into windows (``LMSource``): packed language-model training, every
  position a target;
* an ``sft-jsonl``-style dataset (``SFTSource``): one example per row, padded, never packed;
  only assistant/completion tokens are targets.

:class:`TrainData` turns either into :class:`MicroBatch` es. ``targets[:, t]`` is the token
that should follow ``input_ids[:, t]`` (already shifted), ``-100`` where there is none, so
the loss is one ``cross_entropy`` over the logits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

IGNORE_INDEX = -100


@dataclass
class MicroBatch:
    input_ids: torch.Tensor
    targets: torch.Tensor
    attention_mask: torch.Tensor | None = None

    @property
    def n_targets(self) -> int:
        return int((self.targets != IGNORE_INDEX).sum())


class TrainData:
    """A pipeline source (``codex_data.LMSource`` or ``SFTSource``) as micro batches of
    tensors; its position is the source's ``state_dict``."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.cache = getattr(source, "cache", None)  # the token cache of LM data, else None
        self.accum_steps: int = source.accum_steps
        self.tokens_per_step: int = source.tokens_per_step
        self.global_batch: int = source.global_batch

    def train_batches(self, rank: int, world_size: int) -> Iterator[MicroBatch]:
        for batch in self.source.train_batches(rank, world_size):
            yield micro_batch(batch)

    def eval_batches(self, rank: int, world_size: int, n_batches: int) -> list[MicroBatch]:
        """This rank's share of the first ``n_batches`` x micro batch val windows or examples,
        in order (the same ones every evaluation); none when there is no val data."""
        return [micro_batch(batch) for batch in self.source.val_batches(rank, world_size, n_batches)]

    def state_dict(self) -> dict[str, Any]:
        return dict(self.source.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.source.load_state_dict(state)


def micro_batch(batch: Any) -> MicroBatch:
    """A codex-data batch as tensors: LM windows (an int64 array of ``seq_len + 1`` tokens a
    row, or a feed ``Batch`` holding one as ``tokens``) or a padded SFT batch."""
    import torch

    if hasattr(batch, "input_ids"):  # codex_data.PaddedBatch
        return MicroBatch(torch.from_numpy(batch.input_ids), torch.from_numpy(batch.targets),
                          torch.from_numpy(batch.attention_mask))
    window = torch.from_numpy(getattr(batch, "tokens", batch))
    return MicroBatch(window[:, :-1], window[:, 1:])


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
