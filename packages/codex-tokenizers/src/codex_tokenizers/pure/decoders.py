"""Decoders: turn tokens back into text, exactly like the library's ``decoder`` stage.

Supported ``type`` values: ``ByteLevel``, ``WordPiece``, ``Metaspace``, ``BPEDecoder``,
``ByteFallback``, ``Fuse``, ``Strip``, ``Replace`` and ``Sequence``. ``decode_chain`` is the
library's ``Decoder::decode_chain`` (tokens in, tokens out, so decoders can be chained);
``decode`` joins its result with ``""``. With no decoder at all the library joins the tokens
with spaces: :func:`default_decode`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from codex_tokenizers.pure._types import unsupported
from codex_tokenizers.pure.byte_level import CHAR_TO_BYTE, from_byte_chars
from codex_tokenizers.pure.normalized import Pattern
from codex_tokenizers.pure.normalizers import replace_pattern

__all__ = ["Decoder", "build_decoder", "default_decode"]

_STAGE = "decoder"


def default_decode(tokens: Sequence[str]) -> str:
    """What the library returns when the tokenizer has no decoder: the tokens joined by " "."""
    return " ".join(tokens)


class Decoder:
    """Base of the decoders."""

    def decode_chain(self, tokens: list[str]) -> list[str]:
        raise NotImplementedError

    def decode(self, tokens: Sequence[str]) -> str:
        return "".join(self.decode_chain(list(tokens)))


class ByteLevelDecoder(Decoder):
    """``ByteLevel``: byte-level characters back to bytes, the whole sequence decoded as UTF-8
    at once with U+FFFD for invalid bytes (``String::from_utf8_lossy``). A token holding any
    character outside the byte table is taken as its own UTF-8 bytes, whole."""

    def decode_chain(self, tokens: list[str]) -> list[str]:
        data = bytearray()
        for token in tokens:
            if all(c in CHAR_TO_BYTE for c in token):
                data += from_byte_chars(token)
            else:
                data += token.encode("utf-8")
        return [data.decode("utf-8", errors="replace")]


class WordPieceDecoder(Decoder):
    """``WordPiece``: continuing pieces (``prefix``) glued to the previous one, a space before
    the others; ``cleanup`` removes tokenization artifacts (spaces before punctuation...)."""

    _CLEANUP = (
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
        (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    )

    def __init__(self, prefix: str, cleanup: bool) -> None:
        self.prefix = prefix
        self.cleanup = cleanup

    def decode_chain(self, tokens: list[str]) -> list[str]:
        out = []
        for i, token in enumerate(tokens):
            if i:
                token = token.replace(self.prefix, "", 1) if token.startswith(self.prefix) else " " + token
            if self.cleanup:
                for dirty, clean in self._CLEANUP:
                    token = token.replace(dirty, clean)
            out.append(token)
        return out


class MetaspaceDecoder(Decoder):
    """``Metaspace``: the replacement character back to a space; in the first token (unless
    ``prepend_scheme`` is ``never``) every replacement character is dropped."""

    def __init__(self, replacement: str, prepend_scheme: str) -> None:
        self.replacement = replacement
        self.prepend_scheme = prepend_scheme

    def decode_chain(self, tokens: list[str]) -> list[str]:
        drop_first = self.prepend_scheme != "never"
        return [
            t.replace(self.replacement, "" if i == 0 and drop_first else " ") for i, t in enumerate(tokens)
        ]


class BPEDecoder(Decoder):
    """``BPEDecoder``: the end-of-word ``suffix`` becomes a space (nothing in the last token)."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix

    def decode_chain(self, tokens: list[str]) -> list[str]:
        last = len(tokens) - 1
        return [t.replace(self.suffix, "" if i == last else " ") for i, t in enumerate(tokens)]


_HEX = frozenset("0123456789abcdefABCDEF")


def _fallback_byte(token: str) -> int | None:
    """The byte of a ``<0xNN>`` token, parsed like Rust's ``u8::from_str_radix(.., 16)`` on
    the two bytes after ``<0x`` (which also takes a ``+`` sign: ``<0x+A>`` is byte 10)."""
    if len(token.encode("utf-8")) != 6 or not token.startswith("<0x") or not token.endswith(">"):
        return None
    digits = token[3:5]
    if len(digits) != 2 or digits[1] not in _HEX or not (digits[0] in _HEX or digits[0] == "+"):
        return None
    return int(digits.lstrip("+"), 16)


class ByteFallbackDecoder(Decoder):
    """``ByteFallback``: runs of ``<0xNN>`` tokens become the text of their bytes; a run that
    is not valid UTF-8 becomes one U+FFFD per byte token."""

    def decode_chain(self, tokens: list[str]) -> list[str]:
        out: list[str] = []
        run = bytearray()

        def flush() -> None:
            if run:
                try:
                    out.append(run.decode("utf-8"))
                except UnicodeDecodeError:
                    out.extend("\ufffd" * len(run))
                run.clear()

        for token in tokens:
            byte = _fallback_byte(token)
            if byte is None:
                flush()
                out.append(token)
            else:
                run.append(byte)
        flush()
        return out


class FuseDecoder(Decoder):
    """``Fuse``: all tokens into one."""

    def decode_chain(self, tokens: list[str]) -> list[str]:
        return ["".join(tokens)]


class StripDecoder(Decoder):
    """``Strip``: up to ``start`` leading and ``stop`` trailing ``content`` characters removed
    from each token. (Where tokenizers <= 0.23 panics, when ``start`` + ``stop`` overlap in a
    short token, this gives the result of the library's later fix: the empty string.)"""

    def __init__(self, content: str, start: int, stop: int) -> None:
        self.content = content
        self.start = start
        self.stop = stop

    def decode_chain(self, tokens: list[str]) -> list[str]:
        out = []
        for token in tokens:
            start_cut = 0
            for i, c in enumerate(token[: self.start]):
                if c != self.content:
                    break
                start_cut = i + 1
            stop_cut = len(token)
            for i in range(min(self.stop, len(token) - start_cut)):
                if token[len(token) - i - 1] != self.content:
                    break
                stop_cut = len(token) - i - 1
            out.append(token[start_cut:stop_cut])
        return out


class ReplaceDecoder(Decoder):
    """``Replace``: every match of ``pattern`` in each token replaced by ``content`` (matches
    found as Oniguruma does, see :mod:`._onig`; an empty token stays empty)."""

    def __init__(self, pattern: Pattern, content: str) -> None:
        self.pattern = pattern
        self.content = content

    def decode_chain(self, tokens: list[str]) -> list[str]:
        return [
            "".join(self.content if hit else token[start:stop] for start, stop, hit in self.pattern.find_matches(token))
            for token in tokens
        ]


class SequenceDecoder(Decoder):
    """``Sequence``: each decoder's ``decode_chain`` applied in turn."""

    def __init__(self, decoders: list[Decoder]) -> None:
        self.decoders = decoders

    def decode_chain(self, tokens: list[str]) -> list[str]:
        for d in self.decoders:
            tokens = d.decode_chain(tokens)
        return tokens


# -- building from tokenizer.json ------------------------------------------------------------
# The library reads a decoder by its "type" when that names a decoder; otherwise (no or an
# unknown "type") it tries, in order, the decoders that do not check their type: BPEDecoder,
# WordPiece, CTC, Replace, Strip.


class _Invalid(Exception):
    """The spec does not deserialize as this decoder type."""


def _field(spec: dict[str, Any], key: str, kind: type, default: Any = ...) -> Any:
    if key not in spec and default is not ...:
        return default
    value = spec.get(key)
    if kind is int:  # a usize: not a bool, not negative
        valid = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    else:
        valid = isinstance(value, kind)
    if not valid:
        raise _Invalid(f"missing or invalid {key!r}: {value!r}")
    return value


def _char(spec: dict[str, Any], key: str) -> str:
    value: str = _field(spec, key, str)
    if len(value) != 1:
        raise _Invalid(f"{key!r} must be one character, not {value!r}")
    return value


def _byte_level(spec: dict[str, Any]) -> Decoder:
    _field(spec, "add_prefix_space", bool), _field(spec, "trim_offsets", bool), _field(spec, "use_regex", bool, True)
    return ByteLevelDecoder()


def _metaspace(spec: dict[str, Any]) -> Decoder:
    scheme = _field(spec, "prepend_scheme", str, "always")
    if scheme not in ("always", "never", "first"):
        raise _Invalid(f"invalid prepend_scheme {scheme!r}")
    _field(spec, "split", bool, True), _field(spec, "str_rep", str, "")
    if _field(spec, "add_prefix_space", bool, True) is False and scheme != "never":
        raise _Invalid("add_prefix_space=false contradicts prepend_scheme")
    return MetaspaceDecoder(_char(spec, "replacement"), scheme)


def _ctc(spec: dict[str, Any]) -> Decoder:
    _field(spec, "pad_token", str), _field(spec, "word_delimiter_token", str), _field(spec, "cleanup", bool)
    raise unsupported(_STAGE, {**spec, "type": "CTC"})


def _replace(spec: dict[str, Any]) -> Decoder:
    pattern, content = _field(spec, "pattern", dict), _field(spec, "content", str)
    if len(pattern) != 1 or next(iter(pattern)) not in ("String", "Regex"):
        raise _Invalid(f"invalid pattern {pattern!r}")
    return ReplaceDecoder(replace_pattern(_STAGE, spec, pattern), content)


def _sequence(spec: dict[str, Any]) -> Decoder:
    children = [build_decoder(d) if d is not None else None for d in _field(spec, "decoders", list)]
    if any(c is None for c in children):
        raise _Invalid("null decoder in a Sequence")
    return SequenceDecoder([c for c in children if c is not None])


_BUILDERS: dict[str, Callable[[dict[str, Any]], Decoder]] = {
    "BPEDecoder": lambda spec: BPEDecoder(_field(spec, "suffix", str)),
    "ByteLevel": _byte_level,
    "WordPiece": lambda spec: WordPieceDecoder(_field(spec, "prefix", str), _field(spec, "cleanup", bool)),
    "Metaspace": _metaspace,
    "CTC": _ctc,
    "Sequence": _sequence,
    "Replace": _replace,
    "Fuse": lambda spec: FuseDecoder(),
    "Strip": lambda spec: StripDecoder(_char(spec, "content"), _field(spec, "start", int), _field(spec, "stop", int)),
    "ByteFallback": lambda spec: ByteFallbackDecoder(),
}
_UNTAGGED = ("BPEDecoder", "WordPiece", "CTC", "Replace", "Strip")


def build_decoder(spec: dict[str, Any] | None) -> Decoder | None:
    """The decoder the library reads from the ``decoder`` entry of a tokenizer.json (None for
    null); raises :class:`UnsupportedComponentError` for CTC or any other type, or for a spec
    the library cannot read either."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise unsupported(_STAGE, spec, "not a JSON object")
    kind = spec.get("type")
    if isinstance(kind, str) and kind in _BUILDERS:
        try:
            return _BUILDERS[kind](spec)
        except _Invalid as exc:
            raise unsupported(_STAGE, spec, str(exc)) from None
    for name in _UNTAGGED:
        try:
            return _BUILDERS[name](spec)
        except _Invalid:
            continue
    raise unsupported(_STAGE, spec)
