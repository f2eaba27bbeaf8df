"""Models: one pre-tokenized piece -> tokens, as the library's ``tokenizers.models``.

:func:`build_model` reads the ``"model"`` section of a ``tokenizer.json``. The models are
``BPE`` (:mod:`.bpe`), ``WordPiece`` (:mod:`.wordpiece`), ``Unigram`` (:mod:`.unigram`) and
``WordLevel`` (here). Every one gives the library's ids, token strings and offsets; token
offsets are *character* offsets into the piece (where the library's tokens span part of a
character, e.g. a byte-fallback token, they get the whole character, as the library's
encodings do). An option this engine does not implement raises
:class:`~codex_tokenizers.pure._types.UnsupportedComponentError`; a model section the
library refuses, or an input it fails on, raises :class:`ModelError`.
"""

from __future__ import annotations

from itertools import starmap
from typing import Any, Protocol

from codex_core.errors import CodexError
from codex_tokenizers.pure._types import Token, unsupported

CACHE_CAPACITY = 10_000
"""Words a model remembers (as the library's 10,000-entry cache: it fills, then stops)."""

CACHE_MAX_CHARS = 256
"""Longer pieces are not cached."""


def cached_tokenize(model: Any, sequence: str) -> list[Token]:
    """``model._encode(sequence)`` through the model's piece cache (as the library: pieces
    shorter than ``CACHE_MAX_CHARS``, until ``CACHE_CAPACITY`` are held, then no more)."""
    triples = model._cache.get(sequence)
    if triples is None:
        triples = model._encode(sequence)
        if len(sequence) < CACHE_MAX_CHARS and len(model._cache) < model._cache_capacity:
            model._cache[sequence] = triples
    return [*starmap(Token, triples)]


class ModelError(CodexError):
    """A model section the library refuses to load, or an input the library fails on
    (e.g. an unknown piece when the unknown token is missing from the vocabulary)."""


class Model(Protocol):
    """What the pipeline asks of a model. ``tokenize`` returns new :class:`Token` objects on
    every call (results are cached per piece, the tokens are not shared); ``vocab_size`` is
    the library's ``get_vocab_size()`` of the model."""

    vocab: dict[str, int]
    unk_token: str | None
    vocab_size: int

    def tokenize(self, sequence: str) -> list[Token]: ...

    def token_to_id(self, token: str) -> int | None: ...

    def id_to_token(self, id: int) -> str | None: ...


def build_model(spec: dict[str, Any]) -> Model:
    """The model of a ``tokenizer.json`` ``"model"`` section."""
    if not isinstance(spec, dict):
        raise ModelError(f"the tokenizer.json model must be an object, not {type(spec).__name__}")
    kind = spec.get("type")
    if kind == "BPE":
        from codex_tokenizers.pure.bpe import BPE

        return BPE.from_spec(spec)
    if kind == "WordPiece":
        from codex_tokenizers.pure.wordpiece import WordPiece

        return WordPiece.from_spec(spec)
    if kind == "Unigram":
        from codex_tokenizers.pure.unigram import Unigram

        return Unigram.from_spec(spec)
    if kind == "WordLevel":
        return WordLevel.from_spec(spec)
    raise unsupported("model", spec, "no 'type'" if kind is None else "")


class WordLevel:
    """A piece is one token, or the unknown token (the library's ``WordLevel``)."""

    def __init__(self, vocab: dict[str, int], unk_token: str = "<unk>") -> None:
        self.vocab = vocab
        self.unk_token: str | None = unk_token
        self.vocab_size = len(vocab)
        self._ids = reverse_vocab(vocab)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> WordLevel:
        check_keys(spec, {"vocab", "unk_token"})
        return cls(read_vocab(spec), option(spec, "unk_token", str, "<unk>"))

    def tokenize(self, sequence: str) -> list[Token]:
        found = self.vocab.get(sequence)
        if found is not None:
            return [Token(found, sequence, (0, len(sequence)))]
        unk_token = self.unk_token or ""
        unk = self.vocab.get(unk_token)
        if unk is None:
            raise ModelError("WordLevel error: Missing [UNK] token from the vocabulary")
        return [Token(unk, unk_token, (0, len(sequence)))]

    def token_to_id(self, token: str) -> int | None:
        return self.vocab.get(token)

    def id_to_token(self, id: int) -> str | None:
        return token_of(self._ids, id)


# -- reading a model section ------------------------------------------------------------------
_NOT_GIVEN: Any = object()


def check_keys(spec: dict[str, Any], known: set[str]) -> None:
    """Unknown options could change results: refuse them rather than ignore them."""
    extra = sorted(set(spec) - known - {"type"})
    if extra:
        raise unsupported("model", spec, f"option {extra[0]!r}")


def option(spec: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    """``spec[key]`` checked to be a ``kind`` (``null`` or missing -> ``default``)."""
    value = spec.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ModelError(f"{spec.get('type')} option {key!r} must be {kind.__name__}, not {value!r}")
    return value


def read_vocab(spec: dict[str, Any]) -> dict[str, int]:
    """The ``{token: id}`` vocabulary of a BPE, WordPiece or WordLevel section."""
    vocab = spec.get("vocab")
    if not isinstance(vocab, dict):
        raise ModelError(f"{spec.get('type')} model needs a 'vocab' object")
    for token, id in vocab.items():
        if not isinstance(id, int) or isinstance(id, bool) or not 0 <= id < 2**32:
            raise ModelError(f"{spec.get('type')} vocab: id of {token!r} must be an integer in [0, 2**32), not {id!r}")
    return vocab


def reverse_vocab(vocab: dict[str, int]) -> dict[int, str | None]:
    """``{id: token}``; an id given to several tokens maps to None (the library picks one
    of them at random: see :func:`token_of`)."""
    ids: dict[int, str | None] = {}
    for token, id in vocab.items():
        ids[id] = None if id in ids else token
    return ids


def token_of(ids: dict[int, str | None], id: int) -> str | None:
    if id not in ids:
        return None
    token = ids[id]
    if token is None:
        raise unsupported("model", {"type": "vocab"}, f"id {id} has several tokens; the library picks one at random")
    return token


def char_offsets(sequence: str, byte_offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Byte offsets of tokens in ``sequence`` -> character offsets; a token that starts or
    ends inside a character gets the whole character (what the library's encodings say)."""
    char_of: list[int] = []
    for i, c in enumerate(sequence):
        char_of += [i] * len(c.encode("utf-8"))
    return [(char_of[start], char_of[end - 1] + 1) for start, end in byte_offsets]
