"""One tokenizer class over both engines, implementing ``codex_core.protocols.Tokenizer``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from codex_core.errors import CodexError
from codex_core.fsutil import atomic_write
from codex_core.protocols import Encoding

# Token texts that commonly play each role (first match wins).
ROLE_TOKENS: dict[str, tuple[str, ...]] = {
    "bos": ("<s>", "<bos>", "<|begin_of_text|>", "<|startoftext|>", "[CLS]", "<|endoftext|>"),
    "eos": ("</s>", "<eos>", "<|end_of_text|>", "<|endoftext|>", "[SEP]"),
    "pad": ("<pad>", "[PAD]", "<|pad|>"),
    "unk": ("<unk>", "[UNK]", "<|unk|>"),
    "mask": ("<mask>", "[MASK]"),
    "cls": ("[CLS]",),
    "sep": ("[SEP]",),
}


def canonical_json(text: str) -> str:
    """The tokenizer.json with sorted keys and no whitespace: what the fingerprint hashes."""
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class CodexTokenizer:
    """A loaded tokenizer.json on the ``rust`` or ``python`` engine.

    ``encode`` returns a :class:`codex_core.protocols.Encoding` (``ids``, ``tokens``,
    ``offsets``, ``attention_mask``); both engines give identical results.
    """

    def __init__(self, impl: Any, *, backend: str, json_text: str, source: Path | None = None) -> None:
        self._impl = impl
        self.backend = backend
        self.source = source
        self._json = json_text
        self._roles = _roles(json_text)

    def __repr__(self) -> str:
        return f"CodexTokenizer(backend={self.backend!r}, vocab_size={self.vocab_size}, source={str(self.source)!r})"

    # -- the Tokenizer protocol ------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return int(self._impl.get_vocab_size(with_added_tokens=True))

    @property
    def special_tokens(self) -> Mapping[str, int]:
        """Roles (bos, eos, pad, unk, mask, cls, sep) of the special added tokens, by their
        usual texts (``<|endoftext|>`` is both bos and eos, as in GPT-2)."""
        return dict(self._roles)

    def encode(self, text: str, pair: str | None = None, *, add_special_tokens: bool = True) -> Encoding:
        if self.backend == "python":  # the library checks its input itself (below)
            _check_texts([text] if pair is None else [text, pair])
        try:
            return _convert(self._impl.encode(text, pair, add_special_tokens=add_special_tokens))
        except TypeError:
            _check_texts([text] if pair is None else [text, pair])
            raise

    def encode_batch(self, texts: Sequence[str], *, add_special_tokens: bool = True) -> list[Encoding]:
        if self.backend == "python":
            _check_texts(texts)
        try:
            encodings = self._impl.encode_batch(texts if isinstance(texts, list) else list(texts),
                                                add_special_tokens=add_special_tokens)
        except TypeError:
            _check_texts(texts)
            raise
        return [_convert(e) for e in encodings]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return str(self._impl.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def decode_batch(self, batch: Sequence[Sequence[int]], skip_special_tokens: bool = False) -> list[str]:
        return list(self._impl.decode_batch([list(ids) for ids in batch], skip_special_tokens=skip_special_tokens))

    def fingerprint(self) -> str:
        """sha256 of the canonical tokenizer.json (the same file on both engines)."""
        return hashlib.sha256(canonical_json(self._json).encode("utf-8")).hexdigest()

    def save(self, directory: str | Path) -> Path:
        """Write ``tokenizer.json`` into ``directory`` (atomically); returns the file."""
        return atomic_write(Path(directory) / "tokenizer.json", self._json)

    # -- more of the library's API -----------------------------------------------------
    def token_to_id(self, token: str) -> int | None:
        value = self._impl.token_to_id(token)
        return None if value is None else int(value)

    def id_to_token(self, id: int) -> str | None:
        value = self._impl.id_to_token(id)
        return None if value is None else str(value)

    def enable_padding(self, *, direction: str = "right", pad_id: int | None = None, pad_token: str | None = None,
                       length: int | None = None, pad_to_multiple_of: int | None = None) -> None:
        """Pad every batch to its longest encoding (or to ``length``); the pad token
        defaults to the ``pad`` special token."""
        if pad_id is None:
            pad_id = self.special_tokens.get("pad", 0)
        if pad_token is None:
            pad_token = self.id_to_token(pad_id) or "[PAD]"
        self._impl.enable_padding(direction=direction, pad_id=pad_id, pad_token=pad_token, length=length,
                                  pad_to_multiple_of=pad_to_multiple_of)
        self._sync_json()

    def no_padding(self) -> None:
        self._impl.no_padding()
        self._sync_json()

    def enable_truncation(self, max_length: int, *, stride: int = 0, direction: str = "right",
                          strategy: str = "longest_first") -> None:
        self._impl.enable_truncation(max_length, stride=stride, direction=direction, strategy=strategy)
        self._sync_json()

    def no_truncation(self) -> None:
        self._impl.no_truncation()
        self._sync_json()

    def _sync_json(self) -> None:
        self._json = self._impl.to_str()
        self._roles = _roles(self._json)


def _roles(json_text: str) -> dict[str, int]:
    added = json.loads(json_text).get("added_tokens") or []
    specials = {t["content"]: t["id"] for t in added if t.get("special")}
    roles: dict[str, int] = {}
    for role, candidates in ROLE_TOKENS.items():
        for text in candidates:
            if text in specials:
                roles[role] = specials[text]
                break
    return roles


def _check_texts(texts: Sequence[str]) -> None:
    """Text must be valid Unicode: a lone surrogate (e.g. from bad decoding) cannot be
    tokenized by either engine, so it is a clear error, not a crash or silent loss."""
    for text in texts:
        if not isinstance(text, str):
            raise CodexError(f"can only encode text (str), got {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CodexError(
                f"text contains a lone surrogate {text[exc.start]!r} at position {exc.start}",
                hint="fix how the text was decoded (e.g. read files with errors='replace')",
            ) from None


class _EngineEncoding(Encoding):
    """A :class:`codex_core.protocols.Encoding` whose fields are read from the engine's
    encoding on first access: a caller that needs only ``ids`` (a token cache) never pays
    for building millions of token strings and offset tuples."""

    def __init__(self, enc: Any) -> None:  # the dataclass __init__ is replaced on purpose
        self._enc = enc
        self._read: dict[str, Any] = {}

    def _field(self, name: str) -> Any:
        value = self._read.get(name)
        if value is None:
            value = self._read[name] = getattr(self._enc, name)
        return value

    ids = property(lambda self: self._field("ids"))  # type: ignore[assignment]
    tokens = property(lambda self: self._field("tokens"))  # type: ignore[assignment]
    offsets = property(lambda self: self._field("offsets"))  # type: ignore[assignment]
    attention_mask = property(lambda self: self._field("attention_mask"))  # type: ignore[assignment]


def _convert(enc: Any) -> Encoding:
    return _EngineEncoding(enc)
