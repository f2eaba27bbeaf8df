"""The registered tokenizer components: ``tokenizer-json`` and the trained-on-first-use
``bpe``, ``wordpiece`` and ``unigram``."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core.errors import CodexError
from codex_core.fsutil import FileLock, sha256_file

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.context import BuildContext
    from codex_tokenizers.adapter import CodexTokenizer
    from codex_tokenizers.params import TokenizerFileParams, TrainedTokenizerParams

log = logging.getLogger("codex.tokenizers")


def tokenizer_json(params: TokenizerFileParams) -> CodexTokenizer:
    from codex_tokenizers.engine import load

    return load(params.path, params.backend)


def _trained(kind: str, params: TrainedTokenizerParams, context: BuildContext) -> CodexTokenizer:
    """Train on first use; later builds load the cached file, keyed by a hash of the params
    and of the training data (the dataset's fingerprint, or each file's sha256). Processes
    that need the same tokenizer at once take turns through a lock file next to it: the
    second waits, then loads what the first trained."""
    from codex_tokenizers.engine import load
    from codex_tokenizers.training import expand_inputs, train

    texts: Iterable[str] | None = None
    files: list[Path] = []
    if params.dataset is not None:
        docs = context.build("dataset", params.dataset, params.dataset_params)
        data: Any = docs.fingerprint()
        texts = (d.text for d in itertools.islice(docs, params.max_documents))
    elif params.max_documents is not None:
        raise CodexError("max_documents applies to a dataset, not to files")
    else:
        files = expand_inputs(params.files or [])
        data = [(str(f), sha256_file(f)) for f in files]
    described = {"kind": kind, "params": params.model_dump(exclude={"backend"}), "data": data}
    key = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()
    cache = context.cache_dir / "tokenizers" / f"{kind}-{key[:20]}.json"
    if cache.exists():
        return load(cache, params.backend)

    def waiting(holder: str) -> None:
        log.info("tokenizer cache %s: waiting for %s, which is training it", cache, holder)

    with FileLock(cache.with_name(f".{cache.name}.lock"), what="tokenizer cache", wait=waiting):
        if not cache.exists():  # not trained by the process this one waited for
            log.info("tokenizer cache %s: training %s (vocab_size %d)", cache, kind, params.vocab_size)
            train(kind, vocab_size=params.vocab_size, min_frequency=params.min_frequency,
                  special_tokens=params.special_tokens, inputs=[str(f) for f in files], texts=texts,
                  output=cache, template=params.template)
    return load(cache, params.backend)


def bpe(params: TrainedTokenizerParams, context: BuildContext) -> CodexTokenizer:
    return _trained("bpe", params, context)


def wordpiece(params: TrainedTokenizerParams, context: BuildContext) -> CodexTokenizer:
    return _trained("wordpiece", params, context)


def unigram(params: TrainedTokenizerParams, context: BuildContext) -> CodexTokenizer:
    return _trained("unigram", params, context)
