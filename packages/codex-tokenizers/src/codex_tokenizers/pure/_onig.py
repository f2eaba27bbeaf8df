"""Oniguruma patterns (what ``tokenizer.json`` regexes are written for) run with ``regex``.

The library compiles ``Split``/``Replace`` patterns and the ByteLevel pattern with Oniguruma
(Oniguruma syntax: ``^``/``$`` are line anchors, ``(?m)`` means dot-all, ``\\h`` is a hex
digit, ``(?i)`` folds fully). :func:`translate` rewrites such a pattern for the ``regex``
module (version 1 syntax: nested sets and set operations, like Oniguruma) twice:

* for ASCII-only text, where both engines agree on every class;
* for any text, where each ``\\p{..}``/``\\w``/``\\d``/``\\b`` is narrowed to Oniguruma's
  older Unicode tables (code points it does not assign yet, one category change).

Constructs that cannot be translated with certainty raise :class:`UnsupportedComponentError`.
:class:`OnigRegex` also reproduces Oniguruma's iteration over empty matches.
"""

from __future__ import annotations

import regex

from . import _unicode_data as data
from ._types import UnsupportedComponentError

_NEW = data.ONIG_UNASSIGNED
_CATEGORIES = ["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"]
_GROUPS = {"L": "Lu Ll Lt Lm Lo", "LC": "Lu Ll Lt", "M": "Mn Mc Me", "N": "Nd Nl No",
           "P": "Pc Pd Ps Pe Pi Pf Po", "S": "Sm Sc Sk So", "Z": "Zs Zl Zp", "C": "Cc Cf Cs Co Cn"}
_LONG = {
    "letter": "L", "casedletter": "LC", "uppercaseletter": "Lu", "lowercaseletter": "Ll",
    "titlecaseletter": "Lt", "modifierletter": "Lm", "otherletter": "Lo", "mark": "M",
    "nonspacingmark": "Mn", "spacingmark": "Mc", "enclosingmark": "Me", "number": "N",
    "decimalnumber": "Nd", "letternumber": "Nl", "othernumber": "No", "punctuation": "P",
    "connectorpunctuation": "Pc", "dashpunctuation": "Pd", "openpunctuation": "Ps",
    "closepunctuation": "Pe", "initialpunctuation": "Pi", "finalpunctuation": "Pf",
    "otherpunctuation": "Po", "symbol": "S", "mathsymbol": "Sm", "currencysymbol": "Sc",
    "modifiersymbol": "Sk", "othersymbol": "So", "separator": "Z", "spaceseparator": "Zs",
    "lineseparator": "Zl", "paragraphseparator": "Zp", "other": "C", "control": "Cc",
    "format": "Cf", "surrogate": "Cs", "privateuse": "Co", "unassigned": "Cn", "l&": "LC",
}
_SHORT = {k.lower(): k for k in [*_CATEGORIES, *_GROUPS]}


def _regex_category(char: str) -> str:
    return next(c for c in _CATEGORIES if regex.match(rf"\p{{{c}}}", char))


def _category_set(name: str) -> str:
    """``\\p{name}`` restricted to Oniguruma's tables, as a V1 nested set."""
    members = set(_GROUPS.get(name, name).split())
    add, remove = [], []
    for cp, onig_cat in data.ONIG_CATEGORY_OVERRIDES.items():
        char = chr(cp)
        mine = _regex_category(char) in members
        if (onig_cat in members) and not mine:
            add.append(char)
        elif mine and onig_cat not in members:
            remove.append(char)
    esc = "".join(f"\\U{ord(c):08x}" for c in remove)
    extra = "".join(f"\\U{ord(c):08x}" for c in add)
    if "Cn" in members:  # code points Oniguruma does not assign yet are Cn there
        return f"[[\\p{{{name}}}--[{esc}]]{extra}[{_NEW}]]" if esc else f"[\\p{{{name}}}{extra}[{_NEW}]]"
    return f"[[\\p{{{name}}}--[{_NEW}{esc}]]{extra}]"


_WORD = f"[[\\w--[{_NEW}{data.ONIG_WORD_MISSING}]]{data.ONIG_WORD_EXTRA}]"
_DIGIT = f"[\\d--[{_NEW}]]"
_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_NOT_BOUNDARY = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"
_HEX = "0-9a-fA-F"
_CLASS_ESCAPES = {"d": (r"\d", _DIGIT), "w": (r"\w", _WORD), "s": (r"\s", r"\s"), "h": (_HEX, _HEX)}
_SIMPLE = {"t": r"\t", "n": r"\n", "r": r"\r", "f": r"\f", "v": r"\v", "a": r"\a", "e": r"\x1b"}
_FLAGS = {"i": "i", "m": "s"}  # Oniguruma's m is dot-all
_LINE_START = r"(?:\A|(?<=\n)(?!\Z))"  # Oniguruma's ^: not after a newline that ends the text


class _Unsupported(Exception):
    pass


# Under (?i) the regex module also matches i with U+0130 (dotted capital I) and I with U+0131
# (dotless small i); Oniguruma does not.
_TURKISH_I = {c: f"(?:(?-i:(?!{o})){c})" for c, o in (("i", "\u0130"), ("I", "\u0131"), ("\u0130", "i"), ("\u0131", "I"))}


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.ci = False  # case-insensitive here
        self.groups: list[bool] = []  # case-insensitivity outside each open group
        self.anchored: list[bool] = [False]  # whether each open group holds an anchor

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.p[j] if j < len(self.p) else ""

    def run(self) -> tuple[str, str]:
        asc: list[str] = []
        exact: list[str] = []
        while self.i < len(self.p):
            c = self.p[self.i]
            if c == "\\":
                if self.peek(1) in "bBAzZG":
                    self.anchored[-1] = True
                a, e = self.escape(in_class=False)
            elif c == "[":
                a, e = self.char_class()
                if self.ci:
                    self.check_folding(e)
            elif c == "(":
                a = e = self.group_open()
            elif c == ")":
                if not self.groups:
                    raise _Unsupported("unbalanced parenthesis")
                self.ci = self.groups.pop()
                self.i += 1
                if self.anchored.pop():
                    if self.peek() in ("*", "+", "?", "{"):  # Oniguruma repeats these its own way
                        raise _Unsupported("a repeated group holding an anchor")
                    self.anchored[-1] = True
                a = e = c
            elif c in "^$":
                self.anchored[-1] = True
                self.i += 1
                a = e = _LINE_START if c == "^" else c
            else:
                self.i += 1
                a = e = _TURKISH_I.get(c, c) if self.ci else c
            asc.append(a)
            exact.append(e)
        if self.groups:
            raise _Unsupported("unbalanced parenthesis")
        return "".join(asc), "".join(exact)

    def check_folding(self, cls: str) -> None:
        """Under (?i) regex folds i/I with the Turkish U+0130/U+0131, Oniguruma does not
        (literals get a lookahead; a class that would match differently is refused)."""
        body = "[" + cls[2:] if cls.startswith("[^") else cls
        if "[^" in body or "&&" in body:  # Oniguruma case-folds a nested negation afterwards
            raise _Unsupported("a case-insensitive class with a nested negation or intersection")
        turkish = "iI\u0130\u0131"
        exact = {c for c in turkish if regex.compile(body, regex.V1).match(c)}
        folded = {c for c in turkish if regex.compile(body, regex.V1 | regex.IGNORECASE).match(c)}
        onig = exact | (set("iI") if exact & set("iI") else set())
        if folded != onig:
            raise _Unsupported("a case-insensitive class that meets i, I, U+0130 or U+0131")

    def group_open(self) -> str:
        self.i += 1
        self.groups.append(self.ci)
        self.anchored.append(False)
        if self.peek() != "?":
            return "("
        rest = self.p[self.i + 1 :]
        for prefix in (":", "=", "!", "<=", "<!", ">"):
            if rest.startswith(prefix):
                self.i += 1 + len(prefix)
                return "(?" + prefix
        if rest.startswith("<") or rest.startswith("P<"):
            end = rest.find(">")
            name = rest[rest.index("<") + 1 : end]
            if end < 0 or not name.isidentifier():
                raise _Unsupported("group syntax")
            self.i += 1 + end + 1
            return f"(?P<{name}>"
        flags = ""
        j = 0
        while j < len(rest) and rest[j] in "im-":
            flags += rest[j]
            j += 1
        if j < len(rest) and rest[j] in ":)" and flags:
            self.i += 1 + j + 1
            on, _, off = flags.partition("-")
            ci = "i" in on or (self.ci and "i" not in off)
            if rest[j] == ")":  # applies to the rest of the enclosing group
                self.groups.pop()
                self.anchored.pop()
            self.ci = ci
            out = "".join(_FLAGS[f] for f in on)
            if off:
                out += "-" + "".join(_FLAGS[f] for f in off)
            return f"(?{out}{rest[j]}"
        raise _Unsupported(f"group syntax (?{rest[:3]}")

    def property(self, negated: bool) -> tuple[str, str]:
        if self.peek() != "{":
            raise _Unsupported("\\p without braces")
        end = self.p.find("}", self.i)
        if end < 0:
            raise _Unsupported("unterminated \\p{")
        name = self.p[self.i + 1 : end]
        self.i = end + 1
        if name.startswith("^"):
            negated, name = not negated, name[1:]
        key = name.replace(" ", "").replace("_", "").replace("-", "").lower()
        short = _SHORT.get(key) or _LONG.get(key)
        if short is None:
            raise _Unsupported(f"property \\p{{{name}}} (only general categories)")
        if self.ci and short in ("Lu", "Ll", "Lt"):
            raise _Unsupported(f"\\p{{{name}}} under (?i) (regex folds it, Oniguruma does not)")
        neg = "^" if negated else ""
        return f"[{neg}\\p{{{short}}}]", f"[{neg}{_category_set(short)}]"

    def escape(self, in_class: bool) -> tuple[str, str]:
        c = self.peek(1)
        self.i += 2
        if c == "":
            raise _Unsupported("trailing backslash")
        if c.lower() in _CLASS_ESCAPES:
            a, e = _CLASS_ESCAPES[c.lower()]
            if c.islower():
                return (a, e) if in_class or a.startswith("\\") else (f"[{a}]", f"[{e}]")
            return f"[^{a}]", f"[^{e}]"
        if c in "pP":
            return self.property(negated=c == "P")
        if c in _SIMPLE:
            return _SIMPLE[c], _SIMPLE[c]
        if c == "x":
            if self.peek() == "{":
                end = self.p.find("}", self.i)
                digits = self.p[self.i + 1 : end]
                self.i = end + 1
            else:
                digits = self.p[self.i : self.i + 2]
                self.i += len(digits)
            return self._codepoint(digits)
        if c == "u":
            digits = self.p[self.i : self.i + 4]
            self.i += 4
            return self._codepoint(digits)
        if in_class:
            if c == "b":
                return r"\x08", r"\x08"
        else:
            anchors = {"A": (r"\A", r"\A"), "z": (r"\Z", r"\Z"), "Z": (r"(?=\n?\Z)", r"(?=\n?\Z)"),
                       "b": (r"\b", _BOUNDARY), "B": (r"\B", _NOT_BOUNDARY),
                       "R": (r"(?>\r\n|[\n\v\f\r\x85\u2028\u2029])",) * 2, "N": (r"[^\n]", r"[^\n]"),
                       "O": (r"(?s:.)", r"(?s:.)")}
            if c in anchors:
                return anchors[c]
            if c.isdigit() and c != "0":
                return "\\" + c, "\\" + c
        if c.isascii() and c.isalnum():
            raise _Unsupported(f"escape \\{c}")
        return "\\" + c, "\\" + c

    @staticmethod
    def _codepoint(digits: str) -> tuple[str, str]:
        try:
            cp = int(digits, 16)
        except ValueError:
            raise _Unsupported("bad hex escape") from None
        return f"\\U{cp:08x}", f"\\U{cp:08x}"

    def char_class(self) -> tuple[str, str]:
        self.i += 1
        asc, exact = ["["], ["["]
        if self.peek() == "^":
            self.i += 1
            asc.append("^")
            exact.append("^")
        first = True
        while True:
            c = self.peek()
            if c == "":
                raise _Unsupported("unterminated character class")
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[":
                if self.peek(1) == ":":
                    raise _Unsupported("POSIX bracket classes")
                a, e = self.char_class()
            elif c == "\\":
                a, e = self.escape(in_class=True)
            elif c == "&" and self.peek(1) == "&":
                self.i += 2
                a = e = "&&"
            elif c in "|~&-[]":
                self.i += 1
                is_range = c == "-" and len(asc) > 1 and asc[-1] not in ("^", "&&") and self.peek() not in ("]", "")
                a = e = "-" if is_range else "\\" + c
            else:
                self.i += 1
                a = e = c
            asc.append(a)
            exact.append(e)
        asc.append("]")
        exact.append("]")
        return "".join(asc), "".join(exact)


# Oniguruma only tries line starts for a pattern that opens with ``.*``/``.+`` -- also when
# zero-width assertions come first, where that changes the result.
_ANCHORED_HEAD = regex.compile(r"(?:\\[bB]|\(\?<?[=!](?:[^()\\]|\\.)*\))+\.(?:[*+]|\{\d+,\})")


def translate(pattern: str) -> tuple[str, str]:
    """Oniguruma ``pattern`` -> (``regex`` V1 source for ASCII text, source for any text)."""
    try:
        if _ANCHORED_HEAD.match(pattern):
            raise _Unsupported("an assertion before a leading .* or .+")
        return _Translator(pattern).run()
    except _Unsupported as e:
        raise UnsupportedComponentError(
            f"the pure-Python tokenizer engine cannot run the Oniguruma pattern {pattern!r}: {e}",
            hint="use the rust backend (pip install 'codex-tokenizers[rust]')",
        ) from None


def _class_chars(class_text: str) -> set[str]:
    """The characters of a ``\\Uxxxxxxxx[-\\Uxxxxxxxx]...`` class body."""
    chars: set[str] = set()
    for lo, hi in regex.findall(r"\\U([0-9a-fA-F]{8})(?:-\\U([0-9a-fA-F]{8}))?", class_text):
        chars.update(map(chr, range(int(lo, 16), int(hi or lo, 16) + 1)))
    return chars


# The code points where Oniguruma's tables and the ``regex`` module's disagree: text
# without any of them gets the same matches from the plain pattern as from the exact one.
_DISAGREE = frozenset(
    _class_chars(_NEW + data.ONIG_WORD_MISSING + data.ONIG_WORD_EXTRA)
    | {chr(cp) for cp in data.ONIG_CATEGORY_OVERRIDES}
)


class OnigRegex:
    """A compiled Oniguruma pattern with the library's ``find_matches`` semantics."""

    __slots__ = ("_ascii", "_exact", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        asc, exact = translate(pattern)
        flags = regex.V1 | regex.MULTILINE
        try:
            self._ascii = regex.compile(asc, flags)
            self._exact = self._ascii if exact == asc else regex.compile(exact, flags)
        except regex.error as e:
            raise UnsupportedComponentError(
                f"the pure-Python tokenizer engine cannot compile the pattern {pattern!r}: {e}",
                hint="use the rust backend (pip install 'codex-tokenizers[rust]')",
            ) from None

    def compiled_for(self, text: str) -> regex.Pattern[str]:
        """The compiled pattern that matches ``text`` as Oniguruma does: the plain one
        unless the text holds a code point whose Unicode data differs between the two."""
        if self._exact is self._ascii or text.isascii() or _DISAGREE.isdisjoint(text):
            return self._ascii
        return self._exact

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Match spans in Oniguruma's order (an empty match right where the previous match
        ended is skipped, and the search resumes one character later)."""
        pat = self.compiled_for(text)
        out: list[tuple[int, int]] = []
        for m in pat.finditer(text):
            s, e = m.span()
            if s == e:
                pos = out[-1][1] if out else 0
                return out + _slow_spans(pat, text, pos, pos if out else None)
            out.append((s, e))
        return out

    def find_matches(self, text: str) -> list[tuple[int, int, bool]]:
        return splits_of(self.spans(text), len(text))


def splits_of(spans: list[tuple[int, int]], length: int) -> list[tuple[int, int, bool]]:
    """The library's ``find_matches`` from match spans: the matches and the gaps between
    them, in order, each flagged (``True`` for a match); ``[(0, 0, False)]`` for no text."""
    if not length:
        return [(0, 0, False)]
    out: list[tuple[int, int, bool]] = []
    prev = 0
    for s, e in spans:
        if prev != s:
            out.append((prev, s, False))
        out.append((s, e, True))
        prev = e
    if prev != length:
        out.append((prev, length, False))
    return out


def _slow_spans(pat: regex.Pattern[str], text: str, pos: int, last_end: int | None) -> list[tuple[int, int]]:
    out = []
    n = len(text)
    while pos <= n:
        m = pat.search(text, pos)
        if m is None:
            break
        s, e = m.span()
        if s == e and last_end == e:
            pos += 1
            continue
        out.append((s, e))
        pos = last_end = e
    return out
