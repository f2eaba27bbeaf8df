"""Post-processors: add the special tokens of a model around the encoded sequence(s) and
merge a pair into one encoding, exactly like the library's ``post_processor`` stage.

Supported ``type`` values: ``ByteLevel``, ``TemplateProcessing``, ``BertProcessing``,
``RobertaProcessing`` and ``Sequence``. As in the library, ``process`` first marks each
input with its sequence index (and type id 0 / 1), lets the processor rewrite the list of
encodings, then merges them (overflowing parts included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codex_tokenizers.pure._lib_encoding import _Encoding, _merge
from codex_tokenizers.pure._types import PureEncoding, unsupported
from codex_tokenizers.pure.byte_level import BYTE_TO_CHAR

__all__ = ["PostProcessor", "build_post_processor", "default_process"]

_STAGE = "post_processor"
# What offset trimming strips: "Ġ" (a byte-level space) and Rust's ``char::is_whitespace``
# (Unicode White_Space; not ``str.isspace``, which also takes U+001C..U+001F).
_SPACE_CHARS = BYTE_TO_CHAR[ord(" ")] + "\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    chr(c) for c in range(0x2000, 0x200B))


class PostProcessor:
    """Base of the post-processors: ``process`` is the library's ``PostProcessor::process``."""

    def added_tokens(self, is_pair: bool) -> int:
        """How many tokens ``process`` adds (the library's ``num_special_tokens_to_add``)."""
        raise NotImplementedError

    def process_encodings(self, encodings: list[_Encoding], add_special_tokens: bool) -> list[_Encoding]:
        raise NotImplementedError

    def process(
        self, encoding: PureEncoding, pair: PureEncoding | None = None, add_special_tokens: bool = True
    ) -> PureEncoding:
        """Add the special tokens to ``encoding`` (and ``pair``) and merge them into one encoding."""
        encodings = [_Encoding.from_pure(e) for e in (encoding, pair) if e is not None]
        for i, e in enumerate(encodings):
            e.set_sequence_id(i)
            for o in e.overflowing:
                o.set_sequence_id(i)
            e.type_ids = [i] * len(e)
        return _merge(self.process_encodings(encodings, add_special_tokens)).to_pure()


def default_process(encoding: PureEncoding, pair: PureEncoding | None = None) -> PureEncoding:
    """What the library does with no post-processor: the pair (if any) is appended, type ids
    are left as they are."""
    merged = _Encoding.from_pure(encoding)
    if pair is not None:
        first, merged = merged, _Encoding([], [], [], [], [], [], [])
        for i, e in enumerate((first, _Encoding.from_pure(pair))):
            e.set_sequence_id(i)
            merged.merge_with(e)
    return merged.to_pure()


def _trim_offsets(encodings: list[_Encoding], add_prefix_space: bool) -> None:
    """``processors::byte_level::process_offsets`` on each encoding and its overflowing parts:
    leading/trailing space characters (``Ġ`` or whitespace) of each token leave its offsets."""
    for e in encodings:
        _trim(e, add_prefix_space)
        for o in e.overflowing:
            _trim(o, add_prefix_space)


def _trim(e: _Encoding, add_prefix_space: bool) -> None:
    for i, token in enumerate(e.tokens):
        leading = len(token) - len(token.lstrip(_SPACE_CHARS))
        trailing = len(token) - len(token.rstrip(_SPACE_CHARS))
        if not leading and not trailing:
            continue
        start, stop = e.offsets[i]
        if leading:
            if (i == 0 or start == 0) and add_prefix_space and leading == 1:
                leading = 0
            start = min(start + leading, stop)
        if trailing and stop >= trailing:
            stop = max(stop - trailing, start)
        e.offsets[i] = (start, stop)


class ByteLevelProcessor(PostProcessor):
    """``ByteLevel``: trims the offsets of byte-level tokens (``trim_offsets``); adds nothing."""

    def __init__(self, trim_offsets: bool, add_prefix_space: bool) -> None:
        self.trim_offsets = trim_offsets
        self.add_prefix_space = add_prefix_space

    def added_tokens(self, is_pair: bool) -> int:
        return 0

    def process_encodings(self, encodings: list[_Encoding], add_special_tokens: bool) -> list[_Encoding]:
        if self.trim_offsets:
            _trim_offsets(encodings, self.add_prefix_space)
        for i, e in enumerate(encodings):
            e.set_sequence_id(i)
        return encodings


Special = tuple[str, int]
"""A special token of Bert/Roberta processing: ``(token, id)``."""


def _wrap(e: _Encoding, before: Special | None, after: Special, type_ids: list[int], seq: int) -> _Encoding:
    """``e`` between the special tokens ``before`` (optional) and ``after``; the inner tokens'
    special-token mask is reset to 0 and their range is recorded as sequence ``seq``."""
    head = [before] if before else []
    n = len(e)
    return _Encoding(
        [t[1] for t in head] + e.ids + [after[1]], type_ids, [t[0] for t in head] + e.tokens + [after[0]],
        [None] * len(head) + e.words + [None], [(0, 0)] * len(head) + e.offsets + [(0, 0)],
        [1] * len(head) + [0] * n + [1], [1] * (n + len(head) + 1), ranges={seq: (len(head), len(head) + n)},
    )


class BertProcessing(PostProcessor):
    """``BertProcessing``: ``[CLS] A [SEP]`` and ``[CLS] A [SEP] B [SEP]`` (B with type id 1)."""

    def __init__(self, sep: Special, cls: Special) -> None:
        self.sep = sep
        self.cls = cls

    def added_tokens(self, is_pair: bool) -> int:
        return 3 if is_pair else 2

    def process_encodings(self, encodings: list[_Encoding], add_special_tokens: bool) -> list[_Encoding]:
        if not add_special_tokens:
            return encodings
        out = []
        for i, e in enumerate(encodings):
            if i == 0:
                main = _wrap(e, self.cls, self.sep, [0, *e.type_ids, 0], 0)
                main.overflowing = [_wrap(o, self.cls, self.sep, [0, *o.type_ids, 0], 0) for o in e.overflowing]
            else:
                main = _wrap(e, None, self.sep, [*e.type_ids, 1], 1)
                main.overflowing = [_wrap(o, None, self.sep, [*o.type_ids, 1], 1) for o in e.overflowing]
            out.append(main)
        return out


class RobertaProcessing(PostProcessor):
    """``RobertaProcessing``: ``<s> A </s>`` and ``<s> A </s> </s> B </s>``, every type id 0,
    with the ByteLevel offset trimming (``trim_offsets``) applied first."""

    def __init__(self, sep: Special, cls: Special, trim_offsets: bool, add_prefix_space: bool) -> None:
        self.sep = sep
        self.cls = cls
        self.trim_offsets = trim_offsets
        self.add_prefix_space = add_prefix_space

    def added_tokens(self, is_pair: bool) -> int:
        return 4 if is_pair else 2

    def process_encodings(self, encodings: list[_Encoding], add_special_tokens: bool) -> list[_Encoding]:
        if self.trim_offsets:
            _trim_offsets(encodings, self.add_prefix_space)
        for e in encodings:
            e.type_ids = [0] * len(e)
        if not add_special_tokens:
            return encodings
        out = []
        for i, e in enumerate(encodings):
            first, seq = (self.cls, 0) if i == 0 else (self.sep, 1)
            main = _wrap(e, first, self.sep, [0] * (len(e) + 2), seq)
            main.overflowing = [_wrap(o, first, self.sep, [0] * (len(o) + 2), seq) for o in e.overflowing]
            out.append(main)
        return out


@dataclass(frozen=True)
class _Piece:
    """A template piece: input ``sequence`` 0 ($A) or 1 ($B), or the special token ``special``."""

    type_id: int
    sequence: int | None = None
    special: str | None = None


_Tokens = tuple[list[int], list[str]]
"""What a template's special token stands for: ids and tokens."""


def _panic(what: str) -> Exception:
    return unsupported(_STAGE, {"type": "TemplateProcessing"}, f"{what}: the library panics")


class TemplateProcessing(PostProcessor):
    """``TemplateProcessing``: the ``single`` / ``pair`` templates of pieces, each special
    token possibly standing for several ids."""

    def __init__(self, single: list[_Piece], pair: list[_Piece], special_tokens: dict[str, _Tokens]) -> None:
        self.single = single
        self.pair = pair
        self.special_tokens = special_tokens

    def _count(self, template: list[_Piece]) -> int:
        # Like the library: a special token missing from the map counts as 0.
        return sum(len(self.special_tokens.get(p.special, ((), ()))[0]) for p in template if p.special is not None)

    def added_tokens(self, is_pair: bool) -> int:
        return self._count(self.pair if is_pair else self.single)

    def process_encodings(self, encodings: list[_Encoding], add_special_tokens: bool) -> list[_Encoding]:
        if len(encodings) not in (1, 2):
            raise _panic(f"{len(encodings)} input encodings (after another processor in a Sequence)")
        template = self.pair if len(encodings) == 2 else self.single
        out: list[_Encoding] = []
        for piece in template:
            if piece.sequence is not None:
                if piece.sequence >= len(encodings):
                    raise _panic("the single template uses $B")
                e = encodings[piece.sequence]
                e.type_ids = [piece.type_id] * len(e)
                e.set_sequence_id(piece.sequence)
                out.append(e.deep_copy())  # later processors may trim the copies
            elif add_special_tokens:
                assert piece.special is not None
                if piece.special not in self.special_tokens:
                    raise _panic(f"special token {piece.special!r} is missing from special_tokens")
                ids, tokens = self.special_tokens[piece.special]
                n = len(ids)
                out.append(_Encoding(list(ids), [piece.type_id] * n, list(tokens), [None] * n, [(0, 0)] * n,
                                     [1] * n, [1] * n))
        return out


class SequenceProcessor(PostProcessor):
    """``Sequence``: each processor rewrites the list of encodings in turn."""

    def __init__(self, processors: list[PostProcessor]) -> None:
        self.processors = processors

    def added_tokens(self, is_pair: bool) -> int:
        return sum(p.added_tokens(is_pair) for p in self.processors)

    def process_encodings(self, encodings: list[_Encoding], add_special_tokens: bool) -> list[_Encoding]:
        for p in self.processors:
            encodings = p.process_encodings(encodings, add_special_tokens)
        return encodings


# -- building from tokenizer.json ------------------------------------------------------------
# The library reads a post-processor as an *untagged* enum: it tries RobertaProcessing,
# BertProcessing, ByteLevel, TemplateProcessing, Sequence in this order, and only ByteLevel and
# Sequence check the "type" (so a RobertaProcessing without trim_offsets is read as a Bert one).


class _Invalid(Exception):
    """The spec does not deserialize as this processor type."""


def _field(spec: dict[str, Any], key: str, kind: type, default: Any = ...) -> Any:
    if key not in spec and default is not ...:
        return default
    value = spec.get(key)
    if not isinstance(value, kind):
        raise _Invalid(f"missing or invalid {key!r}: {value!r}")
    return value


def _u32(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32:
        raise _Invalid(f"invalid {what}: {value!r}")
    return value


def _token_pair(spec: dict[str, Any], key: str) -> tuple[str, int]:
    value = _field(spec, key, list)
    if len(value) != 2 or not isinstance(value[0], str):
        raise _Invalid(f"invalid {key!r}: {value!r}")
    return value[0], _u32(value[1], key)


def _piece(raw: Any) -> _Piece:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise _Invalid(f"invalid template piece {raw!r}")
    ((kind, body),) = raw.items()
    if not isinstance(body, dict) or kind not in ("Sequence", "SpecialToken"):
        raise _Invalid(f"invalid template piece {raw!r}")
    type_id, ident = _u32(body.get("type_id"), "type_id"), body.get("id")
    if kind == "Sequence" and ident in ("A", "B"):
        return _Piece(type_id, sequence=0 if ident == "A" else 1)
    if kind == "SpecialToken" and isinstance(ident, str):
        return _Piece(type_id, special=ident)
    raise _Invalid(f"invalid template piece {raw!r}")


def _special_token(name: str, raw: Any) -> _Tokens:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise _Invalid(f"invalid special token {name!r}")
    ids, tokens = _field(raw, "ids", list), _field(raw, "tokens", list)
    if not all(isinstance(t, str) for t in tokens):
        raise _Invalid(f"invalid special token {name!r}")
    if len(ids) != len(tokens):  # the library would build an encoding with fewer tokens than ids
        raise unsupported(_STAGE, {"type": "TemplateProcessing"},
                          f"special token {name!r} has {len(ids)} ids but {len(tokens)} tokens")
    return [_u32(i, "special token id") for i in ids], tokens


def _roberta(spec: dict[str, Any]) -> PostProcessor:
    return RobertaProcessing(_token_pair(spec, "sep"), _token_pair(spec, "cls"),
                             _field(spec, "trim_offsets", bool), _field(spec, "add_prefix_space", bool))


def _bert(spec: dict[str, Any]) -> PostProcessor:
    return BertProcessing(_token_pair(spec, "sep"), _token_pair(spec, "cls"))


def _byte_level(spec: dict[str, Any]) -> PostProcessor:
    if spec.get("type") != "ByteLevel":
        raise _Invalid("not a ByteLevel")
    _field(spec, "use_regex", bool, True)
    return ByteLevelProcessor(_field(spec, "trim_offsets", bool), _field(spec, "add_prefix_space", bool))


def _template(spec: dict[str, Any]) -> PostProcessor:
    single, pair = ([_piece(p) for p in _field(spec, key, list)] for key in ("single", "pair"))
    specials = {name: _special_token(name, raw) for name, raw in _field(spec, "special_tokens", dict).items()}
    return TemplateProcessing(single, pair, specials)


def _sequence(spec: dict[str, Any]) -> PostProcessor:
    if spec.get("type") != "Sequence":
        raise _Invalid("not a Sequence")
    children = [build_post_processor(p) if p is not None else None for p in _field(spec, "processors", list)]
    if any(c is None for c in children):
        raise _Invalid("null processor in a Sequence")
    return SequenceProcessor([c for c in children if c is not None])


_VARIANTS = (("RobertaProcessing", _roberta), ("BertProcessing", _bert), ("ByteLevel", _byte_level),
             ("TemplateProcessing", _template), ("Sequence", _sequence))


def build_post_processor(spec: dict[str, Any] | None) -> PostProcessor | None:
    """The post-processor the library reads from the ``post_processor`` entry of a
    tokenizer.json (None for null); raises :class:`UnsupportedComponentError` for any other
    type, or for a spec the library cannot read either."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise unsupported(_STAGE, spec, "not a JSON object")
    reasons = {}
    for name, build in _VARIANTS:
        try:
            return build(spec)
        except _Invalid as exc:
            reasons[name] = str(exc)
    raise unsupported(_STAGE, spec, reasons.get(str(spec.get("type")), ""))
