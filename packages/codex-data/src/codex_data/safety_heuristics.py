"""The two built-in rules that a regular expression alone cannot decide: ``keyword-secret``
(a value assigned to a name such as ``password`` or ``client_secret``) and ``high-entropy``
(a random-looking base64 or hex string).

Each is still one regex in the policy's combined scan (literal-led, so the scan stays fast),
with a capture group around the candidate value; a *check* then decides on the candidate in
Python: it returns the span to redact, or None to let the text be. A rejected candidate
consumes nothing: the scan goes on from the next character, so a rule that starts inside it
(an ``AKIA...`` key in a quoted string too short to be random) still matches. Both rules take
``params`` in a policy file (:data:`DEFAULTS`); the params are part of the fingerprint.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from codex_core.errors import CodexError, did_you_mean

Check = Callable[[str, int, int], "tuple[int, int] | None"]
"""``check(text, start, end)``: the span of ``text`` to redact for the candidate value at
``[start, end)``, or None when the candidate is not a secret."""

KEYWORDS = ("secret", "password", "passwd", "token", "api_key", "private_key")
"""Names that hold secrets (case-insensitive; ``_`` in a keyword also matches ``-`` or nothing)."""

DEFAULTS: dict[str, dict[str, Any]] = {
    "keyword-secret": {"keywords": list(KEYWORDS), "min_length": 8},
    "high-entropy": {"base64_limit": 4.5, "hex_limit": 3.0, "base64_min_length": 20, "hex_min_length": 32,
                     "allow": [], "builtin_allow": True},
}
"""The params of each rule and their defaults (detect-secrets' limits: 4.5 and 3.0 bits a character)."""

_QUOTES = "\"'`"
_OPERATOR = r"[\"']?\]?[ \t]*(?::=|=>|=(?!=)|:(?=[ \t\"'`]))[ \t]*"
"""After the name: an optional closing quote or bracket (``"token":``, ``d["token"] =``), then
``=``, ``:=``, ``=>`` (not ``==``), or ``:`` before a space or a quote (not ``a:b`` in a URN)."""
_VALUE = r"(?:[rRbBuUfF]{0,2}[\"'`])?([^\s\"'`]{1,256})"

# keyword-secret: what a value must not be
_BARE_END = re.compile(r"[^,;()\[\]{}<>]*")
_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*|[-+]?[0-9][0-9._]*(?:[eE][-+]?[0-9]+)?|0[xX][0-9a-fA-F]+|.*:")
"""A bare value that reads as code: a name or a dotted name (an attribute), a number, or a
word before a colon (``with_tokens: bool:`` in a docstring)."""
_DIGIT = re.compile(r"[0-9]")
"""A value without a digit is taken for a word or a phrase (``"Bearer"``, ``"invalid-mailbox"``,
``"/etc/passwd"``, ``'geheim$parole'``): keys and tokens have digits, and so do most passwords."""
_NOT_A_SECRET = re.compile(
    r"^\[REDACTED|^urn:|^\$|\$[{(]|\{[^}]*\}|%\(|%[sdr]|^<.*>$|\.\.\.|://"  # templates, URLs
    r"|\\[wdsbWDSB]|\(\?|\[[^\]]*-[^\]]*\]"  # a regular expression
)


def keyword_patterns(keywords: list[str]) -> tuple[str, ...]:
    """One alternative per keyword and case of its first letter: the keyword, the rest of the
    name, the operator, and the value in group 1 (quoted or bare, decided by the check)."""
    patterns = []
    for word in keywords:
        rest = "".join("[_-]?" if c == "_" else re.escape(c) for c in word[1:])
        for first in dict.fromkeys((word[0].lower(), word[0].upper())):
            patterns.append(f"{first}(?i:{rest})[A-Za-z0-9_.-]{{0,40}}{_OPERATOR}{_VALUE}")
    return tuple(patterns)


def keyword_check(params: Mapping[str, Any]) -> Check:
    """A value of ``min_length``+ characters with a digit: quoted, without whitespace, not a
    template, a placeholder or a URL; or bare, not an identifier, a dotted name, a number, a
    call or a subscript (in code, a variable)."""
    min_length = params["min_length"]

    def check(text: str, start: int, end: int) -> tuple[int, int] | None:
        quote = text[start - 1] if start else ""
        if quote in _QUOTES:
            if text[end:end + 1] != quote:
                return None  # no closing quote: a string with spaces (prose), or cut off
            value = text[start:end]
            if len(value) < min_length or not _DIGIT.search(value) or len(set(value)) < 3:
                return None
        else:
            end = _BARE_END.match(text, start, end).end()  # type: ignore[union-attr]  # always matches
            value = text[start:end]
            if len(value) < min_length or text[end:end + 1] in ("(", "[") or _NAME.fullmatch(value):
                return None
            if not _DIGIT.search(value) or len(set(value)) < 3:
                return None
        return None if _NOT_A_SECRET.search(value) else (start, end)

    return check


# high-entropy
_B64_RUN = r"([A-Za-z0-9+/_-]{%d,}={0,2})(?![A-Za-z0-9+/=_-])"
_HEX = re.compile(r"[0-9a-fA-F]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SRI = re.compile(r"(?i:sha(?:1|224|256|384|512)|md5)-")
_HASH_CONTEXT = re.compile(
    r"(?i:sha[0-9]*|md5|blake2[bs]?|hash(?:es)?|digest|checksum|integrity|commit|rev(?:ision)?|etag|fingerprint"
    r"|uuid|guid|oid)[\w.-]*(?:\(\))?[\"']?\]?\s*(?:[:=]|=>|==)?\s*\[?[rRbBuU]{0,2}[\"'`]?$"
)
"""The text before a value that says it is a hash: ``sha256:``, ``"integrity": "``,
``--hash=sha256:``, ``commit = "``, ``.hexdigest() == '``."""
_ALONE = re.compile(r"[ \t]*[rRbBuU]{0,2}[\"']")


def _doctest_output(text: str, start: int) -> bool:
    """The string at ``start`` is alone on its line, right after a ``>>>`` or ``...`` line: the
    output of an example in a docstring (``>>> h.hexdigest()`` then ``'a4337bc4...'``)."""
    line = text.rfind("\n", 0, start)
    if line < 0 or not _ALONE.fullmatch(text, line + 1, start):
        return False
    previous = text[text.rfind("\n", 0, line) + 1:line].lstrip()
    return previous.startswith((">>>", "..."))


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` (Shannon entropy of its character frequencies)."""
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values()) if n else 0.0


def entropy_patterns(min_length: int) -> tuple[str, ...]:
    """A run of base64 (or base64url, or hex) characters after a quote, ``=`` or ``:``."""
    run = _B64_RUN % min_length
    return tuple(f"{start}[ \\t]*{run}" if start in "=:" else f"{start}{run}" for start in "\"'`=:")


def _sequential(value: str) -> bool:
    """An alphabet (``abcdef...``, ``0123...``, ``ABC...XYZ234567``) rather than a random string."""
    steps = sum(1 for a, b in itertools.pairwise(value) if ord(b) - ord(a) == 1)
    return steps >= (len(value) - 1) / 2


def entropy_check(params: Mapping[str, Any]) -> Check:
    """Hex of ``hex_min_length``+ characters above ``hex_limit`` bits a character, or base64
    of ``base64_min_length``+ above ``base64_limit``; not a number, an alphabet, a UUID, an
    SRI hash (``sha512-...``), a value after a hash's name or a doctest's output, nor one an
    ``allow`` regex finds in the line up to the value's end."""
    b64_limit, hex_limit = params["base64_limit"], params["hex_limit"]
    b64_min, hex_min = params["base64_min_length"], params["hex_min_length"]
    builtin_allow = params["builtin_allow"]
    allow = [re.compile(p) for p in params["allow"]]

    def check(text: str, start: int, end: int) -> tuple[int, int] | None:
        value = text[start:end]
        if _HEX.fullmatch(value):
            secret = len(value) >= hex_min and not value.isdigit() and shannon_entropy(value) > hex_limit
        else:
            secret = len(value) >= b64_min and shannon_entropy(value) > b64_limit
        if not secret or _sequential(value):
            return None
        line = text[max(text.rfind("\n", max(0, start - 200), start) + 1, start - 200):end]
        if builtin_allow and (
            _UUID.fullmatch(value) or _SRI.match(value) or _HASH_CONTEXT.search(line[:len(line) - len(value)])
            or _doctest_output(text, start)
        ):
            return None
        if any(a.search(line) for a in allow):
            return None
        return start, end

    return check


CHECKS: dict[str, Callable[[Mapping[str, Any]], Check]] = {"keyword-secret": keyword_check, "high-entropy": entropy_check}


def patterns(check: str, params: Mapping[str, Any]) -> tuple[str, ...]:
    """The regex alternatives of a checked rule with these params."""
    if check == "keyword-secret":
        return keyword_patterns(list(params["keywords"]))
    return entropy_patterns(min(params["base64_min_length"], params["hex_min_length"]))


def resolve_params(check: str, given: Any, where: str) -> dict[str, Any]:
    """The defaults of ``check`` updated with ``given`` (a policy file's ``params``), checked."""
    defaults = DEFAULTS[check]
    if given is None:
        return dict(defaults)
    if not isinstance(given, Mapping):
        raise CodexError(f"{where}: 'params' must be a mapping, e.g. {{{next(iter(defaults))}: ...}}")
    for key in given:
        if key not in defaults:
            close = did_you_mean(str(key), defaults)
            hint = f"did you mean {close!r}?" if close else f"known params: {', '.join(defaults)}"
            raise CodexError(f"{where}: unknown param {key!r}", hint=hint)
    params = {**defaults, **given}
    for key, default in defaults.items():
        value = params[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            params[key] = float(value) if ok else value
        else:
            ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        if not ok:
            raise CodexError(f"{where}: param {key!r} must be {_kind(default)}, not {value!r}")
    if check == "keyword-secret":
        bad = [k for k in params["keywords"] if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", k)]
        if bad or not params["keywords"]:
            raise CodexError(f"{where}: 'keywords' must be words of letters, digits and '_' (starting with a "
                             f"letter), not {bad or '[]'}")
    for pattern in params.get("allow", []):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise CodexError(f"{where}: bad regex {pattern!r} in 'allow': {exc}") from None
    return params


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number >= 1"
    if isinstance(default, float):
        return "a number >= 0"
    return "a list of strings"
