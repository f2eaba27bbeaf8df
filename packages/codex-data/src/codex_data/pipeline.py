"""The data pipeline: from a run config's ``data`` section and a tokenizer to batches, as
numpy arrays with a resumable state. ``codex train`` and ``codex data prepare`` both go
through it, so they build (and find) the same token cache.

Two sources, one shape:

* :class:`LMSource`: a token cache cut into windows. Training windows come from a
  :class:`~codex_data.feed.DataFeed` over the ``train`` split; validation windows are the
  first windows of the ``val`` split, in order, the same ones at every evaluation.
* :class:`SFTSource`: the examples of a dataset that has ``examples(tokenizer, max_length=...)``
  (``sft-jsonl``), tokenized once, one example per row, padded, never packed.

Token cache: :func:`prepare_cache` filters the documents with ``data.safety`` (``builtin``,
``off``, or a policy YAML file), splits them by ``data.split`` salted with ``data.split.seed``
(not ``run.seed``: the runs of a seed sweep share one split and one cache), and keeps
the cache under ``<cache root>/token-caches/<dataset>-<hash of params and tokenizer>``. The
same inputs find the cache already there (``TokenCache.built`` is False) and read nothing.

SFT examples: a shuffle by ``data.split.seed`` alone puts ``round(n * data.split.val)`` examples aside
for validation (none when there is one example); the rest are visited in the order, and
resumed from the position, of :class:`~codex_data.feed.Schedule`, exactly as windows are.
A micro batch is padded to its longest example; ``labels`` are the input ids where the loss
mask is 1 and ``-100`` elsewhere, and :attr:`PaddedBatch.targets` are the labels shifted by
one, aligned with ``input_ids`` as :attr:`Batch.targets <codex_data.feed.Batch.targets>` are.

    source = open_pipeline(config, tokenizer, context, world_size=world_size, progress=True)
    source.load_state_dict(checkpoint["data"])      # when resuming
    for batch in source.train_batches(rank, world_size):
        ...                                         # batch.tokens (LM) or batch.input_ids (SFT)
        checkpoint["data"] = source.state_dict()    # after the optimizer step
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codex_core.errors import CodexError
from codex_core.protocols import Document
from codex_data.feed import Batch, DataFeed, Schedule, global_batch_size
from codex_data.prepare import dataset_sources, default_cache_dir, prepare
from codex_data.safety import Policy, SafetyFilter
from codex_data.sft import IGNORE_INDEX, SFTExample, pad_examples
from codex_data.split import SPLITS, SplitAssigner, ratios_dict
from codex_data.token_cache import TokenCache

Array = np.ndarray[Any, np.dtype[np.int64]]


def safety_policy(safety: str) -> Policy | None:
    """The policy ``data.safety`` names: ``builtin`` (the built-in rules), ``off`` (None: no
    filters, recorded as filter fingerprint ``"none"``) or a policy YAML file."""
    if safety == "off":
        return None
    return Policy.load(None if safety == "builtin" else safety)


def prepare_cache(data: Any, tokenizer: Any, context: Any, *, seed: int, dataset: Any = None,
                  out: str | Path | None = None, progress: bool = False) -> TokenCache:
    """Build (or reuse) the token cache of a ``data`` section (a ``DataSection``: ``name``,
    ``params``, ``split``, ``safety``) for ``tokenizer``.

    :param context: the ``BuildContext``: builds the dataset when ``dataset`` is None, and its
        ``cache_dir`` is the cache root the cache goes under (unless ``out`` is given).
    :param seed: the split's salt (a run config's ``data.split.seed``).
    """
    policy = safety_policy(data.safety)
    if dataset is None:
        dataset = context.build("dataset", data)
    if out is None:
        out = default_cache_dir(Path(context.cache_dir), data.name, dict(data.params), tokenizer)
    return prepare(dataset, tokenizer, out, dataset_name=data.name, ratios=data.split, seed=seed,
                   policy=policy, progress=progress)


def split_documents(data: Any, context: Any, *, seed: int, split: str | None = None,
                    dataset: Any = None) -> Iterator[Document]:
    """The documents of a ``data`` section as the token cache holds them, in its order:
    after the safety filters (redactions applied), without empty documents and exact
    duplicates, and with ``split`` (``train``, ``val``, ``test``) only those the split
    assignment (salted with ``seed``, as :func:`prepare_cache`) puts there. Evaluation reads
    text (bytes per document, contamination by file) through this, so it sees what training saw."""
    if split is not None and split not in SPLITS:
        raise CodexError(f"unknown split {split!r}", hint=f"one of {', '.join(SPLITS)}")
    if dataset is None:
        dataset = context.build("dataset", data)
    policy = safety_policy(data.safety)
    documents = SafetyFilter(policy)(dataset) if policy is not None else iter(dataset)
    assigner = SplitAssigner(ratios_dict(data.split), salt=str(seed))
    for doc in documents:
        if not doc.text:
            continue
        where = assigner.assign(doc.text)
        if where is not None and (split is None or where == split):
            yield doc


def open_pipeline(config: Any, tokenizer: Any, context: Any, *, world_size: int = 1,
                  progress: bool = False) -> LMSource | SFTSource:
    """The source of a run config (a ``RunConfig``): :class:`SFTSource` when its dataset has
    ``examples``, else :class:`LMSource` over the token cache :func:`prepare_cache` builds.
    Build it on one process first (it may build the cache), then on the others."""
    dataset = context.build("dataset", config.data)
    seed, split_seed = config.run.seed, config.data.split.seed
    if hasattr(dataset, "examples"):
        source = SFTSource(dataset, tokenizer, config.trainer, world_size, seed, val_fraction=config.data.split.val,
                           split_seed=split_seed)
        source.sources = dataset_sources(config.data.name, dataset)
        source.tokenizer_fingerprint = tokenizer.fingerprint()
        return source
    cache = prepare_cache(config.data, tokenizer, context, seed=split_seed, dataset=dataset, progress=progress)
    return LMSource(cache, config.trainer, world_size, seed)


class LMSource:
    """Windows of a token cache's ``train`` split (a :class:`DataFeed`: shuffled per epoch,
    resumable) and of its ``val`` split (a fixed order, for evaluation)."""

    def __init__(self, cache: TokenCache, trainer: Any, world_size: int, seed: int) -> None:
        self.cache = cache
        self.feed = DataFeed.from_config(cache.split("train"), trainer, world_size=world_size, seed=seed)
        self.accum_steps = self.feed.accum_steps(world_size)
        self.global_batch = self.feed.global_batch
        self.tokens_per_step = self.feed.global_batch * self.feed.seq_len
        self.micro_batch, self.seq_len = trainer.micro_batch_size, trainer.seq_len
        self.val = cache.split("val") if "val" in cache.manifest.splits else np.zeros(0, np.int64)
        self.val_windows = (len(self.val) - 1) // self.seq_len if len(self.val) > self.seq_len else 0

    def describe(self) -> dict[str, Any]:
        """What the run's manifest records of its data: the token cache's ``sources`` (with
        their sha256), its ``fingerprint`` and the ``split_seed``."""
        manifest = self.cache.manifest
        return {"sources": list(manifest.sources), "fingerprint": manifest.fingerprint(), "split_seed": manifest.seed}

    def train_batches(self, rank: int, world_size: int) -> Iterator[Batch]:
        """The feed's micro batches for ``rank`` from its position (``Batch.tokens``)."""
        return self.feed.batches(rank, world_size)

    def val_batches(self, rank: int, world_size: int, n_batches: int) -> list[Array]:
        """This rank's share of the first ``n_batches x micro_batch`` val windows, in order
        (the same windows every evaluation, whatever the world size), as int64 arrays of
        ``(rows, seq_len + 1)`` tokens; fewer when the val split is small, none when empty."""
        total = min(self.val_windows, n_batches * self.micro_batch)
        mine = list(range(rank, total, world_size))
        return [np.stack([self._val_window(w) for w in mine[i:i + self.micro_batch]])
                for i in range(0, len(mine), self.micro_batch)]

    def _val_window(self, w: int) -> Array:
        return np.asarray(self.val[w * self.seq_len:w * self.seq_len + self.seq_len + 1], dtype=np.int64)

    def state_dict(self) -> dict[str, Any]:
        return self.feed.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.feed.load_state_dict(state)


@dataclass(frozen=True)
class PaddedBatch:
    """SFT examples padded on the right, one per row (int64 arrays of the same shape).

    :ivar input_ids: the token ids, padded with the pad id.
    :ivar labels: the input ids where the loss mask is 1, ``-100`` elsewhere (not shifted).
    :ivar attention_mask: 1 on real tokens, 0 on padding.
    """

    input_ids: Array
    labels: Array
    attention_mask: Array

    @property
    def targets(self) -> Array:
        """The token that should follow each input position: the labels shifted by one,
        ``-100`` in the last column."""
        targets = np.full_like(self.labels, IGNORE_INDEX)
        targets[:, :-1] = self.labels[:, 1:]
        return targets


class SFTSource:
    """Examples of an SFT dataset, tokenized once (cut at ``seq_len``): ``global_batch``
    examples a step in :class:`Schedule` order, split evenly over the ranks, each micro
    batch padded to its longest example."""

    def __init__(self, dataset: Any, tokenizer: Any, trainer: Any, world_size: int, seed: int,
                 val_fraction: float, split_seed: int | None = None) -> None:
        examples = list(dataset.examples(tokenizer, max_length=trainer.seq_len))
        if not examples:
            raise CodexError("the SFT dataset has no examples with a target token",
                             hint="check the dataset's files and its prompt/completion fields")
        n_val = round(len(examples) * val_fraction) if len(examples) > 1 else 0
        held_out = seed if split_seed is None else split_seed  # which examples validate
        self.split_seed, self.val_fraction, self.seq_len = held_out, val_fraction, trainer.seq_len
        self.sources: list[dict[str, str]] = []
        self.tokenizer_fingerprint = ""
        order = np.random.Generator(np.random.PCG64(held_out)).permutation(len(examples))
        self.val_examples = [examples[i] for i in order[:n_val]]
        self.train_examples = [examples[i] for i in order[n_val:]]
        self.micro_batch = trainer.micro_batch_size
        self.global_batch = global_batch_size(trainer, world_size)
        self.schedule = Schedule(len(self.train_examples), self.micro_batch, self.global_batch, seed,
                                 what="the SFT data", resume_keys={"seed": seed, "global_batch": self.global_batch,
                                                                   "n_examples": len(self.train_examples)})
        self.accum_steps = self.schedule.accum_steps(world_size)  # checks the batch divides over the ranks
        if len(self.train_examples) < self.global_batch:
            raise CodexError(f"the SFT dataset has {len(self.train_examples)} training examples, fewer than one "
                             f"global batch ({self.global_batch})", hint="use a smaller batch or more examples")
        self.steps_per_epoch = self.schedule.steps_per_epoch
        self.tokens_per_step = self.global_batch * trainer.seq_len  # an upper bound (padding)
        self.pad_id = int(tokenizer.special_tokens.get("pad", tokenizer.special_tokens.get("eos", 0)))

    def describe(self) -> dict[str, Any]:
        """What the run's manifest records of its data: the dataset's ``sources`` (with their
        sha256), a ``fingerprint`` of everything that decides the examples and the hold-out
        (sources, tokenizer, seq_len, val fraction, split seed) and the ``split_seed``."""
        import hashlib
        import json

        key = {"sources": self.sources, "tokenizer": self.tokenizer_fingerprint, "seq_len": self.seq_len,
               "val": self.val_fraction, "split_seed": self.split_seed}
        fingerprint = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()
        return {"sources": list(self.sources), "fingerprint": fingerprint, "split_seed": self.split_seed}

    @property
    def position(self) -> tuple[int, int]:
        """``(epoch, global batch index)`` of the next global batch."""
        return self.schedule.position

    def train_batches(self, rank: int, world_size: int) -> Iterator[PaddedBatch]:
        """Micro batches for ``rank`` from :attr:`position`, endlessly, rolling over epochs."""
        slots = self.schedule.slots(rank, world_size)
        return (self.pad([self.train_examples[int(i)] for i in slot.items]) for slot in slots)

    def val_batches(self, rank: int, world_size: int, n_batches: int) -> list[PaddedBatch]:
        """This rank's share of the first ``n_batches x micro_batch`` val examples, in order."""
        mine = self.val_examples[: n_batches * self.micro_batch][rank::world_size]
        return [self.pad(mine[i:i + self.micro_batch]) for i in range(0, len(mine), self.micro_batch)]

    def pad(self, examples: list[SFTExample]) -> PaddedBatch:
        """``examples`` padded to the longest of them (:func:`~codex_data.sft.pad_examples`)."""
        padded = {k: np.array(v, dtype=np.int64) for k, v in pad_examples(examples, self.pad_id).items()}
        return PaddedBatch(padded["input_ids"], padded["labels"], padded["attention_mask"])

    def state_dict(self) -> dict[str, Any]:
        return self.schedule.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.schedule.load_state_dict(state)
