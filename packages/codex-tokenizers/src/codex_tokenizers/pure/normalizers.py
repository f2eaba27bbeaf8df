"""Normalizers from a ``tokenizer.json`` ``normalizer`` spec, as in-place functions on a
:class:`~codex_tokenizers.pure.normalized.NormalizedString`.

Supported: NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Replace, Prepend,
BertNormalizer and Sequence of these. Anything else, or an option this engine does not know,
raises :class:`~codex_tokenizers.pure._types.UnsupportedComponentError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _unicode
from ._onig import OnigRegex
from ._split import Literal, Pattern
from ._types import unsupported
from .normalized import NormalizedString

Normalizer = Callable[[NormalizedString], None]


def _options(spec: dict[str, Any], allowed: dict[str, Any]) -> dict[str, Any]:
    """``spec``'s options over ``allowed``'s defaults; an unknown key is unsupported."""
    unknown = set(spec) - set(allowed) - {"type"}
    if unknown:
        raise unsupported("normalizer", spec, f"unknown option(s) {sorted(unknown)}")
    return {k: spec.get(k, default) for k, default in allowed.items()}


def _flag(spec: dict[str, Any], opts: dict[str, Any], name: str) -> bool:
    value = opts[name]
    if not isinstance(value, bool):
        raise unsupported("normalizer", spec, f"{name}={value!r}")
    return value


def replace_pattern(stage: str, spec: dict[str, Any], pattern: Any) -> Pattern:
    """A ``{"String": ..}`` or ``{"Regex": ..}`` pattern as the library compiles it (both go
    through Oniguruma, so an empty ``String`` matches at every position)."""
    if isinstance(pattern, dict) and len(pattern) == 1:
        ((kind, value),) = pattern.items()
        if kind == "String" and isinstance(value, str):
            return Literal(value) if value else OnigRegex("")
        if kind == "Regex" and isinstance(value, str):
            return OnigRegex(value)
    raise unsupported(stage, spec, f"pattern {pattern!r}")


def _bert(spec: dict[str, Any]) -> Normalizer:
    opts = _options(spec, {"clean_text": True, "handle_chinese_chars": True, "strip_accents": None,
                           "lowercase": True})
    clean = _flag(spec, opts, "clean_text")
    chinese = _flag(spec, opts, "handle_chinese_chars")
    lower = _flag(spec, opts, "lowercase")
    strip = lower if opts["strip_accents"] is None else _flag(spec, opts, "strip_accents")

    def bert(ns: NormalizedString) -> None:
        if clean:
            ns.remove_class(_unicode.BERT_REMOVED)
            text = ns.normalized
            ns.normalized = _unicode.WHITESPACE.pick(text).sub(" ", text)
        if chinese:
            ns.check_whole_transform()
            text = ns.normalized
            hits = list(_unicode.CHINESE.pick(text).finditer(text))
            if hits:
                ns._splice([(m.start(), m.end(), [(" ", 0), (m.group(), 1), (" ", 1)], 0) for m in hits])
        if strip:
            ns.nfd()
            ns.remove_class(_unicode.BERT_STRIPPED)
        if lower:
            ns.lowercase()

    return bert


def _strip(spec: dict[str, Any]) -> Normalizer:
    opts = _options(spec, {"strip_left": True, "strip_right": True})
    left, right = _flag(spec, opts, "strip_left"), _flag(spec, opts, "strip_right")
    return lambda ns: ns._lrstrip(left, right)


def _replace(spec: dict[str, Any]) -> Normalizer:
    opts = _options(spec, {"pattern": None, "content": None})
    pattern = replace_pattern("normalizer", spec, opts["pattern"])
    content = opts["content"]
    if not isinstance(content, str):
        raise unsupported("normalizer", spec, f"content={content!r}")
    return lambda ns: ns.replace(pattern, content)


def _prepend(spec: dict[str, Any]) -> Normalizer:
    prefix = _options(spec, {"prepend": None})["prepend"]
    if not isinstance(prefix, str):
        raise unsupported("normalizer", spec, f"prepend={prefix!r}")
    return lambda ns: ns.prepend(prefix)


def _sequence(spec: dict[str, Any]) -> Normalizer:
    items = _options(spec, {"normalizers": None})["normalizers"]
    if not isinstance(items, list):
        raise unsupported("normalizer", spec, "normalizers must be a list")
    steps = [n for n in (build_normalizer(item) for item in items) if n is not None]

    def sequence(ns: NormalizedString) -> None:
        for step in steps:
            step(ns)

    return sequence


def _simple(method: Callable[[NormalizedString], None]) -> Callable[[dict[str, Any]], Normalizer]:
    def build(spec: dict[str, Any]) -> Normalizer:
        _options(spec, {})
        return method

    return build


def _strip_accents(ns: NormalizedString) -> None:
    ns.remove_class(_unicode.STRIPPED_MARK)


_BUILDERS: dict[str, Callable[[dict[str, Any]], Normalizer]] = {
    "NFC": _simple(NormalizedString.nfc),
    "NFD": _simple(NormalizedString.nfd),
    "NFKC": _simple(NormalizedString.nfkc),
    "NFKD": _simple(NormalizedString.nfkd),
    "Lowercase": _simple(NormalizedString.lowercase),
    "StripAccents": _simple(_strip_accents),
    "Strip": _strip,
    "Replace": _replace,
    "Prepend": _prepend,
    "BertNormalizer": _bert,
    "Sequence": _sequence,
}


def build_normalizer(spec: dict[str, Any] | None) -> Normalizer | None:
    """The normalizer for a ``tokenizer.json`` ``normalizer`` entry (None for ``null``)."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise unsupported("normalizer", spec, "not an object")
    builder = _BUILDERS.get(spec.get("type"))  # type: ignore[arg-type]
    if builder is None:
        raise unsupported("normalizer", spec)
    return builder(spec)
