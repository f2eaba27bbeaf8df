"""Added tokens: cut out of the input before normalization and pre-tokenization.

Mirrors the library's ``AddedVocabulary``: ids are assigned as the library does when it reads
``added_tokens`` (an id already known for the content wins over the one in the file);
tokens with ``normalized: false`` are matched on the raw text first, then the rest is
normalized and tokens with ``normalized: true`` are matched (their content normalized too) --
leftmost-longest, honouring ``single_word``, ``lstrip`` and ``rstrip``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import regex

from . import _unicode
from ._types import UnsupportedComponentError
from .normalized import NormalizedString

Normalizer = Callable[[NormalizedString], None]
_FIELDS = {"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"}


class Vocab(Protocol):
    vocab_size: int

    def token_to_id(self, token: str) -> int | None: ...


@dataclass(frozen=True)
class AddedToken:
    content: str
    single_word: bool = False
    lstrip: bool = False
    rstrip: bool = False
    normalized: bool = True
    special: bool = False

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> AddedToken:
        unknown = set(spec) - _FIELDS
        if unknown or not isinstance(spec.get("content"), str):
            raise UnsupportedComponentError(
                f"the pure-Python tokenizer engine does not support the added token {spec!r}",
                hint="use the rust backend (pip install 'codex-tokenizers[rust]')",
            )
        flags = {k: spec[k] for k in ("single_word", "lstrip", "rstrip", "normalized", "special") if k in spec}
        return cls(spec["content"], **flags)


class _Matcher:
    """Leftmost-longest search over literal patterns (an alternation, longest first)."""

    __slots__ = ("ids", "regex")

    def __init__(self, patterns: dict[str, int]) -> None:
        self.ids = patterns
        alternatives = sorted(patterns, key=len, reverse=True)
        self.regex = regex.compile("|".join(regex.escape(p) for p in alternatives)) if patterns else None

    def finditer(self, text: str) -> Iterable[tuple[int, int, int]]:
        if self.regex is None:
            return ()
        return ((m.start(), m.end(), self.ids[m.group()]) for m in self.regex.finditer(text))


class AddedVocabulary:
    """The ``added_tokens`` of a tokenizer.json on top of a model's vocabulary."""

    def __init__(self, added_tokens: list[dict[str, Any]], model: Vocab, normalizer: Normalizer | None = None,
                 encode_special_tokens: bool = False) -> None:
        self.model = model
        self.encode_special_tokens = encode_special_tokens
        self._ids: dict[str, int] = {}  # content -> id
        self._tokens: dict[int, AddedToken] = {}  # id -> token (its options)
        self.special_contents: set[str] = set()
        for spec in added_tokens:
            self._add(AddedToken.from_spec(spec))
        # the library matches the latest token given for each id, with that token's options
        self._raw = self._matcher([(t.content, i) for i, t in self._tokens.items() if not t.normalized])
        self._normalized_tokens = [(t, i) for i, t in self._tokens.items() if t.normalized]
        self._norm_for: tuple[Normalizer | None] | None = None
        self._norm = _Matcher({})
        if normalizer is not None or not self._normalized_tokens:
            self._prepare(normalizer)

    def _add(self, token: AddedToken) -> None:
        content = token.content
        if token.special and content:
            self.special_contents.add(content)
        if not content or token in self._tokens.values():
            return
        new_id = self.token_to_id(content)
        if new_id is None:
            new_id = self.model.token_to_id(content)
        if new_id is None:
            size = self.model.vocab_size
            top = max(self._ids.values(), default=None)
            new_id = size if top is None else (top + 1 if top >= size or size == 0 else size)
        self._ids[content] = new_id
        self._tokens[new_id] = token

    @staticmethod
    def _matcher(patterns: list[tuple[str, int]]) -> _Matcher:
        by_text: dict[str, int] = {}
        for text, i in patterns:
            if not text:
                raise UnsupportedComponentError(
                    "an added token whose normalized content is empty (the tokenizers library would "
                    "match it everywhere)", hint="use the rust backend (pip install 'codex-tokenizers[rust]')")
            if by_text.setdefault(text, i) != i:
                raise UnsupportedComponentError(
                    f"two added tokens match the same text {text!r} (ids {by_text[text]} and {i}); the "
                    "tokenizers library picks one of them at random",
                    hint="use the rust backend (pip install 'codex-tokenizers[rust]')")
        return _Matcher(by_text)

    def _prepare(self, normalizer: Normalizer | None) -> None:
        patterns = []
        for token, i in self._normalized_tokens:
            ns = NormalizedString(token.content)
            if normalizer is not None:
                normalizer(ns)
            patterns.append((ns.normalized, i))
        self._norm = self._matcher(patterns)
        self._norm_for = (normalizer,)

    # --- lookups ----------------------------------------------------------------------------

    def token_to_id(self, content: str) -> int | None:
        return self._ids.get(content)

    def id_to_token(self, id: int) -> str | None:
        token = self._tokens.get(id)
        return token.content if token is not None else None

    def is_special(self, content: str) -> bool:
        """Whether decoding with ``skip_special_tokens`` drops this token."""
        return content in self.special_contents

    def special_ids(self) -> set[int]:
        return {i for c, i in self._ids.items() if c in self.special_contents}

    def count_not_in_model(self) -> int:
        """How many added contents the model's vocabulary lacks (``get_vocab_size`` counts them)."""
        return sum(1 for c in self._ids if self.model.token_to_id(c) is None)

    def __len__(self) -> int:
        return len(self._ids)

    # --- splitting ----------------------------------------------------------------------------

    def split(self, text: str, normalizer: Normalizer | None) -> list[tuple[NormalizedString, int | None]]:
        """``text`` cut into segments in order: an added token (its id) or normalized text
        still to pre-tokenize (None). ``encode(add_special_tokens=...)`` does not change this."""
        if self._norm_for is None or self._norm_for[0] is not normalizer:
            self._prepare(normalizer)
        out: list[tuple[NormalizedString, int | None]] = []
        for segment, found in self._find(NormalizedString(text), self._raw):
            if found is not None:
                out.append((segment, found))
                continue
            if normalizer is not None:
                normalizer(segment)
            out += self._find(segment, self._norm)
        return out

    def _find(self, ns: NormalizedString, matcher: _Matcher) -> list[tuple[NormalizedString, int | None]]:
        text = ns.normalized
        if not text:
            return []
        cuts: list[tuple[int, int, int | None]] = []
        done = 0
        ws = _unicode.WHITESPACE_CHARS
        for start, stop, i in matcher.finditer(text):
            token = self._tokens[i]
            if self.encode_special_tokens and token.special:
                continue
            if token.single_word:
                word = _unicode.RUST_WORD
                if (start > 0 and text[start - 1] in word) or (stop < len(text) and text[stop] in word):
                    continue
            if token.lstrip:
                new_start = start
                while new_start > 0 and text[new_start - 1] in ws:
                    new_start -= 1
                start = max(new_start, done)
            if token.rstrip:
                while stop < len(text) and text[stop] in ws:
                    stop += 1
            if start > stop:  # an lstrip token inside what an rstrip token took: the library panics
                raise UnsupportedComponentError(
                    f"the tokenizers library fails on this input (added token {token.content!r} overlaps "
                    "the whitespace the previous one stripped)",
                    hint="use the rust backend (pip install 'codex-tokenizers[rust]')")
            if done < start:
                cuts.append((done, start, None))
            cuts.append((start, stop, i))
            done = stop
        if done != len(text):
            cuts.append((done, len(text), None))
        return [(ns.slice(a, b), i) for a, b, i in cuts if a != b]
