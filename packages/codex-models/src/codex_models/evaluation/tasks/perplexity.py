"""The ``perplexity`` task: loss, perplexity and bits per byte of a model on documents.

The documents are a split of the run's data (``split``, default ``test``) or all documents of
a dataset (``dataset: {name, params}``), read through codex-data's pipeline
(:func:`codex_data.split_documents`): after the safety filters, without empty documents and
exact duplicates, in the token cache's order, so the text is the text training saw.

Definition: a document is ``[eos] + tokenizer.encode(text).ids`` (eos is the document
separator the training data uses). Windows of ``max_length`` tokens start every ``stride``
tokens and each window scores only the tokens no earlier window scored, so every token of the
document is predicted exactly once, with at least ``max_length - stride`` tokens of context
after the first window; the separator itself is context only
(:func:`codex_models.evaluation.lm.rolling_windows`). Over the documents:

* ``loss``: the total nll (nats) / the tokens scored;
* ``perplexity``: ``exp(loss)``;
* ``bits_per_byte``: the total nll / ln 2 / the documents' UTF-8 bytes (of the filtered text);
* ``tokens`` and ``documents``: the counts.

The units are the documents (id: ``Document.id``); the bootstrap resamples documents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from codex_core.config.schema import ComponentRef
from codex_core.errors import CodexError
from codex_core.evaluation import TaskResult

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.context import BuildContext
    from codex_core.evaluation import EvalRequest
    from codex_core.protocols import Document, LanguageModel

__all__ = ["PerplexityParams", "PerplexityScore", "PerplexityTask"]

_CHUNK = 64  # documents scored per rolling_nll call (windows are batched across them)


class PerplexityParams(BaseModel):
    """Params of the ``perplexity`` task."""

    model_config = ConfigDict(extra="forbid")

    split: Literal["test", "val", "train"] | None = Field(
        "test", description="the split of the run's data to score (needs a run); not used with dataset")
    dataset: ComponentRef | None = Field(
        None, description="score all documents of this dataset instead ({name, params}, as a run config's data)")
    max_length: int | None = Field(None, ge=2, description="tokens per window; default: the model's context length")
    stride: int | None = Field(
        None, ge=1, description="tokens between window starts, below max_length (a window keeps max_length - "
        "stride tokens of context); default: max_length // 2")

    @model_validator(mode="before")
    @classmethod
    def _split_or_dataset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("dataset") is not None:
            if data.get("split") is not None:
                raise ValueError("give split or dataset, not both (a dataset's documents are all scored)")
            data = {**data, "split": None}
        return data

    @model_validator(mode="after")
    def _check(self) -> PerplexityParams:
        if self.split is None and self.dataset is None:
            raise ValueError("give split (test, val or train) or dataset")
        if self.max_length is not None and self.stride is not None and self.stride >= self.max_length:
            raise ValueError(f"stride ({self.stride}) must be below max_length ({self.max_length}): a window "
                             "keeps max_length - stride tokens of context")
        return self


class PerplexityScore:
    """Per document ``[nll, tokens, bytes]``; ``compute`` gives ``loss``, ``perplexity``,
    ``bits_per_byte``, ``tokens`` and ``documents`` over them (see the module docstring).

    ``update(predictions, references)``: ``predictions`` are ``(nll, tokens)`` pairs (a
    document's total nll in nats and its tokens scored), ``references`` the documents'
    UTF-8 byte counts."""

    def __init__(self) -> None:
        self._rows: list[list[float]] = []

    def update(self, predictions: Sequence[Sequence[float]], references: Sequence[int]) -> None:
        if len(predictions) != len(references):
            raise ValueError(f"perplexity got {len(predictions)} scores for {len(references)} documents")
        for (nll, tokens), size in zip(predictions, references, strict=True):
            self._rows.append([float(nll), int(tokens), int(size)])

    def sample_stats(self) -> list[list[float]]:
        return [list(row) for row in self._rows]

    def compute_from(self, stats: Sequence[Sequence[float]]) -> dict[str, float]:
        nll = math.fsum(row[0] for row in stats)
        tokens = sum(int(row[1]) for row in stats)
        size = sum(int(row[2]) for row in stats)
        loss = nll / tokens if tokens else math.nan
        return {"loss": loss, "perplexity": math.exp(loss) if tokens else math.nan,
                "bits_per_byte": nll / math.log(2) / size if size else math.nan,
                "tokens": float(tokens), "documents": float(len(stats))}

    def compute(self) -> dict[str, float]:
        return self.compute_from(self._rows)

    def merge(self, other: Any) -> None:
        if not isinstance(other, PerplexityScore):
            raise TypeError(f"cannot merge {type(other).__name__} into PerplexityScore")
        self._rows.extend(other._rows)

    def reset(self) -> None:
        self._rows = []


class PerplexityTask:
    """Scores documents with :meth:`LanguageModel.rolling_nll` (see the module docstring)."""

    def __init__(self, params: PerplexityParams | None = None, context: BuildContext | None = None) -> None:
        self.params = params if params is not None else PerplexityParams()
        self.context = context

    def scorers(self) -> list[PerplexityScore]:
        return [PerplexityScore()]

    def evaluate(self, lm: LanguageModel | None, request: EvalRequest) -> TaskResult:
        if lm is None:
            raise CodexError("the perplexity task scores a model, not given predictions",
                             hint="evaluate a run (--run) or a model directory (--model)")
        documents = self.documents(request)
        max_length, stride = self._windows(lm)
        eos = _separator(lm)
        scorer = PerplexityScore()
        samples: list[dict[str, Any]] = []
        for start in range(0, len(documents), _CHUNK):
            chunk = documents[start:start + _CHUNK]
            encodings = lm.tokenizer.encode_batch([doc.text for doc in chunk])
            scores = lm.rolling_nll([[eos, *e.ids] for e in encodings], max_length=max_length, stride=stride)
            sizes = [len(doc.text.encode("utf-8")) for doc in chunk]
            scorer.update(scores, sizes)
            for doc, (nll, tokens), size in zip(chunk, scores, sizes, strict=True):
                samples.append({"id": doc.id, "tokens": tokens, "bytes": size, "nll": nll,
                                "loss": nll / tokens if tokens else math.nan})
            request.advance(start + len(chunk), len(documents))
        info = {"max_length": max_length, "stride": stride, "documents": len(documents),
                **({"split": self.params.split} if self.params.dataset is None else
                   {"dataset": self.params.dataset.model_dump()})}
        return TaskResult(ids=[doc.id for doc in documents], scorers=[scorer], samples=samples, info=info)

    def documents(self, request: EvalRequest) -> list[Document]:
        """The documents to score (the first ``request.max_samples`` when set)."""
        from codex_core.config.schema import DataSection
        from codex_data import split_documents

        if self.params.dataset is not None:
            ref = self.params.dataset
            section = DataSection(name=ref.name, params=dict(ref.params))
            found = split_documents(section, request.context, seed=0, split=None)
            where = f"dataset {ref.name!r}"
        else:
            if request.config is None:
                raise CodexError(f"perplexity on the {self.params.split} split needs the run's data config: "
                                 "evaluate a run (--run RUN)",
                                 hint="or score a dataset: --task 'perplexity:dataset={name: text, params: "
                                      "{paths: [DIR]}}'")
            found = split_documents(request.config.data, request.context, seed=request.config.data.split.seed,
                                    split=self.params.split)
            where = f"the {self.params.split} split of the run's data"
        documents = list(found if request.max_samples is None else islice(found, request.max_samples))
        if not documents:
            raise CodexError(f"{where} has no documents to score",
                             hint="check the data (after the safety filters), or score another split or dataset")
        seen: set[str] = set()
        for doc in documents:
            if doc.id in seen:
                raise CodexError(f"{where} has two documents with the id {doc.id!r}",
                                 hint="a dataset must give its documents unique ids")
            seen.add(doc.id)
        return documents

    def _windows(self, lm: LanguageModel) -> tuple[int, int]:
        context = lm.context_length
        max_length = self.params.max_length if self.params.max_length is not None else context
        if max_length > context:
            raise CodexError(f"perplexity max_length {max_length} is more than the model's context of {context}",
                             hint=f"use max_length={context} or less (the default is the context)")
        stride = self.params.stride if self.params.stride is not None else max(1, max_length // 2)
        if stride >= max_length:
            raise CodexError(f"perplexity stride {stride} must be below max_length {max_length}",
                             hint="a window keeps max_length - stride tokens of context; the default is "
                                  "max_length // 2")
        return max_length, stride


def _separator(lm: LanguageModel) -> int:
    eos = getattr(lm, "eos_id", None)
    if eos is None:
        eos = lm.tokenizer.special_tokens.get("eos")
    if eos is None:
        raise CodexError("perplexity needs the tokenizer's eos token (the document separator); this one has none")
    return int(eos)
