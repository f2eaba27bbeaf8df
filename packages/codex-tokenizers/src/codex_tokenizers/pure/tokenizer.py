"""The pure-Python pipeline: a ``tokenizer.json`` read into the stages of this package,
with the subset of the library's ``Tokenizer`` API that codex uses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codex_tokenizers.pure._json_float import serde_f64
from codex_tokenizers.pure._types import PureEncoding, unsupported
from codex_tokenizers.pure.added_vocab import AddedVocabulary
from codex_tokenizers.pure.byte_level import BYTE_TO_CHAR
from codex_tokenizers.pure.decoders import build_decoder, default_decode
from codex_tokenizers.pure.models import build_model
from codex_tokenizers.pure.normalizers import build_normalizer
from codex_tokenizers.pure.padding import Padding, Truncation, pad_encodings, truncate
from codex_tokenizers.pure.pre_tokenizers import ByteLevel, build_pre_tokenizer
from codex_tokenizers.pure.processors import build_post_processor, default_process

KNOWN_KEYS = {"version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "model",
              "post_processor", "decoder"}


class PureTokenizer:
    """A tokenizer.json on the pure-Python engine (same ids, tokens, offsets and decoded
    text as the ``tokenizers`` library)."""

    def __init__(self, spec: dict[str, Any], source: str = "tokenizer.json") -> None:
        extra = set(spec) - KNOWN_KEYS
        if extra:
            raise unsupported("tokenizer.json section", {"type": sorted(extra)[0]}, f"in {source}")
        self._spec = spec
        self.source = source
        self.normalizer = build_normalizer(spec.get("normalizer"))
        self.pre_tokenizer = build_pre_tokenizer(spec.get("pre_tokenizer"))
        self.model = build_model(spec["model"])
        self.post_processor = build_post_processor(spec.get("post_processor"))
        self.decoder = build_decoder(spec.get("decoder"))
        self.added = AddedVocabulary(spec.get("added_tokens") or [], self.model)
        self.truncation = Truncation.from_spec(spec.get("truncation"))
        self.padding = Padding.from_spec(spec.get("padding"))
        self._words: _ByteLevelWords | None = None
        pre = self.pre_tokenizer
        if (self.normalizer is None and isinstance(pre, ByteLevel) and not pre.add_prefix_space
                and pre.regex is not None):
            self._words = _ByteLevelWords(pre.regex, self.model)

    @classmethod
    def from_spec(cls, spec: dict[str, Any], source: str = "tokenizer.json") -> PureTokenizer:
        return cls(spec, source)

    @classmethod
    def from_str(cls, text: str, source: str = "tokenizer.json") -> PureTokenizer:
        """Parse a tokenizer.json reading numbers as the library does (see ``_json_float``)."""
        return cls(json.loads(text, parse_float=serde_f64), source)

    @classmethod
    def from_file(cls, path: str | Path) -> PureTokenizer:
        return cls.from_str(Path(path).read_text(encoding="utf-8"), str(path))

    # -- vocabulary ------------------------------------------------------------------
    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        if not with_added_tokens:
            return self.model.vocab_size
        return self.model.vocab_size + self.added.count_not_in_model()

    def token_to_id(self, token: str) -> int | None:
        found = self.added.token_to_id(token)
        return found if found is not None else self.model.token_to_id(token)

    def id_to_token(self, id: int) -> str | None:
        found = self.added.id_to_token(id)
        return found if found is not None else self.model.id_to_token(id)

    # -- encoding --------------------------------------------------------------------
    def _encode_sequence(self, text: str, type_id: int) -> PureEncoding:
        enc = PureEncoding()
        word = 0
        for segment, added_id in self.added.split(text, self.normalizer):
            if added_id is not None:
                start, end = segment.original_offsets(0, len(segment.normalized))
                enc.ids.append(added_id)
                enc.tokens.append(segment.normalized)  # the matched text, as the library does
                enc.offsets.append((start, end))
                enc.word_ids.append(word)
                word += 1
                continue
            if self._words is not None:
                word = self._words.encode_into(segment, enc, word)
                continue
            pieces = self.pre_tokenizer([segment]) if self.pre_tokenizer is not None else [segment]
            for piece in pieces:
                if not piece.normalized:
                    continue
                for tok in self.model.tokenize(piece.normalized):
                    enc.ids.append(tok.id)
                    enc.tokens.append(tok.value)
                    enc.offsets.append(piece.original_offsets(*tok.offsets))
                    enc.word_ids.append(word)
                word += 1
        n = len(enc.ids)
        enc.type_ids = [type_id] * n
        enc.special_tokens_mask = [0] * n
        enc.attention_mask = [1] * n
        enc.sequence_ids = [type_id] * n
        return enc

    def encode(self, sequence: str, pair: str | None = None, is_pretokenized: bool = False,
               add_special_tokens: bool = True) -> PureEncoding:
        if is_pretokenized:
            raise unsupported("input", {"type": "pre-tokenized input"})
        if not isinstance(sequence, str) or (pair is not None and not isinstance(pair, str)):
            raise TypeError("encode takes text (str), and an optional pair text")
        first = self._encode_sequence(sequence, 0)
        second = self._encode_sequence(pair, 1) if pair is not None else None
        if self.truncation is not None:
            added = self.post_processor.added_tokens(second is not None) if (
                self.post_processor is not None and add_special_tokens) else 0
            first, second = truncate(first, second, self.truncation, added)
        enc = self._post_process(first, second, add_special_tokens)
        if self.padding is not None:
            pad_encodings([enc], self.padding)
        return enc

    def _post_process(self, first: PureEncoding, second: PureEncoding | None, add_special_tokens: bool) -> PureEncoding:
        if self.post_processor is None:
            return default_process(first, second)
        return self.post_processor.process(first, second, add_special_tokens)

    def encode_batch(self, inputs: Sequence[str | tuple[str, str] | list[str]], is_pretokenized: bool = False,
                     add_special_tokens: bool = True) -> list[PureEncoding]:
        encodings = []
        for item in inputs:
            if isinstance(item, str):
                encodings.append(self.encode(item, None, is_pretokenized, add_special_tokens))
            else:
                text, pair = item
                encodings.append(self.encode(text, pair, is_pretokenized, add_special_tokens))
        if self.padding is not None:
            pad_encodings(encodings, self.padding)
        return encodings

    # -- decoding --------------------------------------------------------------------
    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        tokens = []
        for id in ids:
            token = self.id_to_token(id)
            if token is None or (skip_special_tokens and self.added.is_special(token)):
                continue
            tokens.append(token)
        return self.decoder.decode(tokens) if self.decoder is not None else default_decode(tokens)

    def decode_batch(self, sequences: Sequence[Sequence[int]], skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(ids, skip_special_tokens) for ids in sequences]

    # -- padding and truncation --------------------------------------------------------
    def enable_padding(self, direction: str = "right", pad_id: int = 0, pad_type_id: int = 0,
                       pad_token: str = "[PAD]", length: int | None = None,
                       pad_to_multiple_of: int | None = None) -> None:
        self.padding = Padding(direction=direction, pad_id=pad_id, pad_type_id=pad_type_id, pad_token=pad_token,
                               length=length, pad_to_multiple_of=pad_to_multiple_of)

    def no_padding(self) -> None:
        self.padding = None

    def enable_truncation(self, max_length: int, stride: int = 0, strategy: str = "longest_first",
                          direction: str = "right") -> None:
        self.truncation = Truncation(max_length=max_length, stride=stride, strategy=strategy, direction=direction)

    def no_truncation(self) -> None:
        self.truncation = None

    def to_str(self) -> str:
        spec = dict(self._spec)
        spec["truncation"] = self.truncation.to_spec() if self.truncation is not None else None
        spec["padding"] = self.padding.to_spec() if self.padding is not None else None
        return json.dumps(spec, ensure_ascii=False)



_LATIN1_TO_BYTE_CHAR = {b: c for b, c in BYTE_TO_CHAR.items()}

WORD_CACHE_CAPACITY = 100_000
"""Words cached with their tokens and offsets (a few MB at most; the library's own BPE
cache holds 10,000 and then stops adding, as the model's cache here does)."""


class _ByteLevelWords:
    """The fast path of GPT-2-style pipelines (no normalizer; ByteLevel pre-tokenizer with
    its regex and no prefix space): each piece the regex isolates is tokenized once and
    cached *with its offsets*, so a word seen before costs a dict lookup. The result is the
    general path's, piece for piece (the differential tests run both against the library)."""

    def __init__(self, regex: Any, model: Any) -> None:
        self._regex = regex
        self._tokenize = model.tokenize
        self._cache: dict[str, tuple[list[int], list[str], list[tuple[int, int]]]] = {}

    def _word(self, word: str) -> tuple[list[int], list[str], list[tuple[int, int]]]:
        raw = word.encode("utf-8")
        tokens = self._tokenize(raw.decode("latin-1").translate(_LATIN1_TO_BYTE_CHAR))
        if len(raw) == len(word):  # ASCII: byte offsets are char offsets
            offsets = [t.offsets for t in tokens]
        else:  # a token covering part of a character spans the whole character
            char_of = [i for i, c in enumerate(word) for _ in range(len(c.encode("utf-8")))]
            offsets = [(char_of[t.offsets[0]], char_of[t.offsets[1] - 1] + 1) for t in tokens]
        return [t.id for t in tokens], [t.value for t in tokens], offsets

    def _pieces(self, text: str) -> list[str]:
        """The pieces the pre-tokenizer isolates, in order, covering ``text``."""
        pieces: list[str] = self._regex.compiled_for(text).findall(text)
        if sum(map(len, pieces)) != len(text) or "" in pieces:
            # gaps between matches, or an empty match (where Oniguruma's rules differ):
            # take the general route
            pieces = [text[s:e] for s, e, _ in self._regex.find_matches(text) if s != e]
        return pieces

    def encode_into(self, segment: Any, enc: PureEncoding, word: int) -> int:
        """Append the tokens of ``segment`` to ``enc``; returns the next word index."""
        at, cache = segment.offset, self._cache
        ids, tokens, offsets, word_ids = enc.ids, enc.tokens, enc.offsets, enc.word_ids
        for piece in self._pieces(segment.normalized):
            hit = cache.get(piece)
            if hit is None:
                hit = self._word(piece)
                if len(cache) < WORD_CACHE_CAPACITY:
                    cache[piece] = hit
            piece_ids, piece_tokens, piece_offsets = hit
            if len(piece_ids) == 1:  # most words are one token: no per-word list building
                ids.append(piece_ids[0])
                tokens.append(piece_tokens[0])
                a, b = piece_offsets[0]
                offsets.append((at + a, at + b))
                word_ids.append(word)
            else:
                ids += piece_ids
                tokens += piece_tokens
                offsets += [(at + a, at + b) for a, b in piece_offsets]
                word_ids += [word] * len(piece_ids)
            at += len(piece)
            word += 1
        return word
