"""Safety filters: redact secrets and personal data, or drop documents, before tokenizing.

A :class:`Policy` is a list of named rules (``redact``, ``block`` or ``allow``) plus the
built-in rules of :mod:`codex_data.safety_rules`; the format is in ``docs/data-safety.md``.
All redact and block rules of a policy are compiled into one regular expression with a
group per rule, so a document is scanned once whatever the number of rules.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import heapq
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from codex_core.errors import CodexError, did_you_mean
from codex_core.protocols import Document
from codex_data.safety_rules import BUILTIN_RULES

Action = Literal["redact", "block", "allow"]
ACTIONS: tuple[str, ...] = ("redact", "block", "allow")
FLAGS: dict[str, str] = {"ignorecase": "i", "multiline": "m"}
"""Names accepted in a rule's ``flags``, and the inline flag each becomes."""
POLICY_KEYS = ("builtin", "rules")
RULE_KEYS = ("name", "action", "pattern", "literal", "replacement", "flags", "group")
FORMAT_VERSION = 1
"""Bumped when the meaning of a policy changes (e.g. how matches are combined)."""

_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?P<")


@dataclass(frozen=True)
class Rule:
    """One rule: what it matches (regex alternatives), what to do with a match, what to put instead."""

    name: str
    action: Action
    patterns: tuple[str, ...]
    replacement: str = ""
    flags: tuple[str, ...] = ()
    group: int = 0
    """The capture group a redact rule replaces (``0``: the whole match)."""
    left: str = ""
    """A regex for text the match extends over to its left (built-in e-mail rule)."""
    version: int | None = None
    """The built-in rule version; None for a pattern written in a policy file."""

    def __post_init__(self) -> None:
        if self.action == "redact" and not self.replacement:
            object.__setattr__(self, "replacement", f"[REDACTED:{self.name}]")

    @property
    def regexes(self) -> list[str]:
        """The alternatives as they join the combined regex: built-in ones as they are (each
        starts with a literal), a policy file's pattern in a group that scopes its flags."""
        if self.version is not None:
            return list(self.patterns)
        flags = "".join(FLAGS[f] for f in self.flags)
        return [f"(?{flags}:{p})" for p in self.patterns]


@dataclass(frozen=True)
class FilterResult:
    """The filtered text, whether a block rule matched, and the matches per rule."""

    text: str
    blocked: bool = False
    counts: dict[str, int] = field(default_factory=dict)


class _Matcher:
    """One regex for many rules: alternative ``i`` ends with an empty marker group, so a
    match's ``lastindex`` says which rule matched (and where that rule's groups are)."""

    def __init__(self, rules: list[Rule], priority: int = 0) -> None:
        self.priority = priority
        self.rules: dict[int, Rule] = {}
        self.groups: dict[int, int] = {}
        alternatives = []
        index = 0
        for rule in rules:
            for regex in rule.regexes:
                alternatives.append(f"{regex}()")
                base, index = index, index + re.compile(regex).groups + 1
                self.rules[index] = rule
                self.groups[index] = base + rule.group if rule.group else 0
        self.regex = re.compile("|".join(alternatives)) if alternatives else None

    def matches(self, text: str) -> Iterator[tuple[int, int, int, int, Rule, re.Match[str]]]:
        """``(start, priority, end, marker, rule, match)`` for each match, in text order."""
        if self.regex is None:
            return
        for m in self.regex.finditer(text):
            marker = m.lastindex or 0
            yield m.start(), self.priority, m.end(), marker, self.rules[marker], m


class Policy:
    """Named redact / block / allow rules, checked and compiled once.

    A redact or block match that overlaps a match of an allow rule is left as it is (and
    counted under the allow rule). Where matches overlap the leftmost wins; at one position
    the policy's own patterns win over the built-in ones, and block rules over redact rules.
    """

    def __init__(self, rules: Iterable[Rule], *, source: str = "<policy>") -> None:
        self.rules = list(rules)
        self.source = source
        for rule in self.rules:
            _check_rule(rule, source)
        active = [r for r in self.rules if r.action == "block"] + [
            r for r in self.rules if r.action == "redact"
        ]
        # Built-in patterns are literal-led and fast together; a policy's own patterns may not be.
        self._matchers = [
            m
            for m in (
                _Matcher([r for r in active if r.version is None], priority=0),
                _Matcher([r for r in active if r.version is not None], priority=1),
            )
            if m.regex is not None
        ]
        self._allow = _Matcher([r for r in self.rules if r.action == "allow"])

    @classmethod
    def load(cls, path: str | Path | None = None) -> Policy:
        """The policy in a YAML file, or the built-in rules alone when ``path`` is None."""
        if path is None:
            return cls(builtin_rules(), source="<built-in>")
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CodexError(f"{path}: safety policy not found") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" (line {mark.line + 1})" if mark is not None else ""
            raise CodexError(f"{path}: not valid YAML{line}: {getattr(exc, 'problem', exc)}") from None
        return cls.from_dict(data if data is not None else {}, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<policy>") -> Policy:
        """A policy from ``{"builtin": true | false | [names], "rules": [...]}``."""
        if not isinstance(data, Mapping):
            raise CodexError(f"{source}: a safety policy is a mapping with 'builtin' and 'rules'")
        _check_keys(data, POLICY_KEYS, source)
        builtins = _builtin_names(data.get("builtin", True), source)
        raw_rules = data.get("rules") or []
        if not isinstance(raw_rules, list):
            raise CodexError(f"{source}: 'rules' must be a list of rules")
        own: dict[str, Rule] = {}
        for i, raw in enumerate(raw_rules):
            rule = _parse_rule(raw, i, source)
            if rule.name in own:
                raise CodexError(f"{source}: rule {rule.name!r}: defined twice")
            own[rule.name] = rule
        inherited = [r for r in builtin_rules(builtins) if r.name not in own]
        return cls([*own.values(), *inherited], source=source)

    def fingerprint(self) -> str:
        """sha256 of the canonical policy: every rule, its order, and the built-in versions."""
        canonical = {"format": FORMAT_VERSION, "rules": [dataclasses.asdict(r) for r in self.rules]}
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode("utf-8")).hexdigest()

    def apply(self, text: str) -> FilterResult:
        """Redact ``text``; ``blocked`` is True when a block rule matched."""
        counts: dict[str, int] = {}
        if not self._matchers:
            return FilterResult(text, False, counts)
        if len(self._matchers) == 1:
            found: Iterable[tuple[int, int, int, int, Rule, re.Match[str]]] = self._matchers[0].matches(text)
        else:
            found = heapq.merge(*(m.matches(text) for m in self._matchers), key=lambda t: t[:2])
        allowed = self._allowed(text)
        groups = {m.priority: m.groups for m in self._matchers}
        pieces: list[str] = []
        pos = taken = 0  # end of the text copied to pieces; end of the last match taken
        blocked = False
        for start, priority, end, marker, rule, m in found:
            if start < taken:
                continue  # overlaps a match already taken (from the other matcher)
            if rule.left and (start := _extend_left(text, start, taken, rule.left)) < 0:
                continue
            taken = end
            if allowed and (spared := _overlap(allowed, start, end)):
                counts[spared] = counts.get(spared, 0) + 1
                continue
            counts[rule.name] = counts.get(rule.name, 0) + 1
            if rule.action == "block":
                blocked = True
                continue
            group = groups[priority][marker]
            if group and m.start(group) >= 0:
                start, end = m.span(group)
            pieces += (text[pos:start], rule.replacement)
            pos = end
        if pieces:
            pieces.append(text[pos:])
            text = "".join(pieces)
        return FilterResult(text, blocked, counts)

    def _allowed(self, text: str) -> tuple[list[int], list[int], list[str]] | None:
        """The spans matched by allow rules, as sorted starts, ends and rule names."""
        spans = [(start, end, rule.name) for start, _, end, _, rule, _ in self._allow.matches(text)]
        if not spans:
            return None
        return [s for s, _, _ in spans], [e for _, e, _ in spans], [n for _, _, n in spans]

    def __repr__(self) -> str:
        return f"Policy(source={self.source!r}, rules={[r.name for r in self.rules]})"


def _extend_left(text: str, start: int, lo: int, left: str) -> int:
    """Where a match of ``left`` ending at ``start`` begins (not before ``lo``); -1 if none."""
    m = re.compile(f"(?:{left})$").search(text, max(lo, start - 256), start)  # compiled once: re caches
    return m.start() if m else -1


def _overlap(allowed: tuple[list[int], list[int], list[str]], start: int, end: int) -> str | None:
    """The allow rule whose match overlaps ``[start, end)``, if any."""
    starts, ends, names = allowed
    i = bisect.bisect_right(ends, start)
    return names[i] if i < len(starts) and starts[i] < end else None


class SafetyFilter:
    """Applies a policy to documents: yields them redacted, drops blocked ones, and keeps
    the totals for the manifest (:attr:`counts` per rule, :attr:`blocked`, :attr:`redacted`).

    >>> docs = SafetyFilter(Policy.load())(dataset)  # doctest: +SKIP
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.counts: Counter[str] = Counter()
        self.documents = 0
        self.blocked = 0
        """Documents dropped by a block rule."""
        self.redacted = 0
        """Documents kept with at least one redaction."""
        self.blocked_ids: list[str] = []

    def __call__(self, documents: Iterable[Document]) -> Iterator[Document]:
        for doc in documents:
            result = self.policy.apply(doc.text)
            self.documents += 1
            self.counts.update(result.counts)
            if result.blocked:
                self.blocked += 1
                self.blocked_ids.append(doc.id)
                continue
            if result.text is not doc.text:
                self.redacted += 1
                doc = dataclasses.replace(doc, text=result.text)
            yield doc

    def summary(self) -> dict[str, Any]:
        """What the manifest records: the policy fingerprint and the totals."""
        return {
            "policy": self.policy.fingerprint(),
            "documents": self.documents,
            "blocked": self.blocked,
            "redacted": self.redacted,
            "counts": dict(sorted(self.counts.items())),
        }


def builtin_rules(names: Iterable[str] | None = None) -> list[Rule]:
    """The built-in rules (all, or those named), each with its default action ``redact``."""
    chosen = BUILTIN_RULES if names is None else {n: BUILTIN_RULES[n] for n in names}
    return [
        Rule(name, "redact", b.patterns, group=b.group, left=b.left, version=b.version)
        for name, b in chosen.items()
    ]


# -- validation ------------------------------------------------------------------------
def _check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            close = did_you_mean(str(key), allowed)
            hint = f"did you mean {close!r}?" if close else f"known keys: {', '.join(allowed)}"
            raise CodexError(f"{where}: unknown key {key!r}", hint=hint)


def _builtin_names(value: Any, source: str) -> list[str]:
    if value is True:
        return list(BUILTIN_RULES)
    if value is False or value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CodexError(f"{source}: 'builtin' must be true, false or a list of built-in rule names")
    for name in value:
        if name not in BUILTIN_RULES:
            close = did_you_mean(name, BUILTIN_RULES)
            hint = f"did you mean {close!r}?" if close else f"built-in rules: {', '.join(BUILTIN_RULES)}"
            raise CodexError(f"{source}: unknown built-in rule {name!r}", hint=hint)
    return list(dict.fromkeys(value))


def _parse_rule(raw: Any, index: int, source: str) -> Rule:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise CodexError(f"{source}: rule #{index + 1} must be a mapping with a 'name'")
    name = raw["name"]
    where = f"{source}: rule {name!r}"
    _check_keys(raw, RULE_KEYS, where)
    action = raw.get("action", "redact")
    if action not in ACTIONS:
        close = did_you_mean(str(action), ACTIONS)
        hint = f"did you mean {close!r}?" if close else "use redact, block or allow"
        raise CodexError(f"{where}: unknown action {action!r}", hint=hint)
    replacement = _string(raw.get("replacement", ""), "replacement", where)
    if replacement and action != "redact":
        raise CodexError(f"{where}: 'replacement' only applies to redact rules")
    if "pattern" in raw and "literal" in raw:
        raise CodexError(f"{where}: give 'pattern' or 'literal', not both")
    if "pattern" not in raw and "literal" not in raw:
        builtin = BUILTIN_RULES.get(name)
        if builtin is None:
            raise CodexError(f"{where}: needs a 'pattern' (a regex) or a 'literal' (a string)")
        if "flags" in raw or "group" in raw:
            raise CodexError(f"{where}: a built-in rule's pattern takes no 'flags' or 'group'")
        return Rule(
            name, action, builtin.patterns, replacement, (), builtin.group, builtin.left, builtin.version
        )
    if "literal" in raw:
        pattern = re.escape(_string(raw["literal"], "literal", where))
    else:
        pattern = _string(raw["pattern"], "pattern", where)
    flags = raw.get("flags") or []
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise CodexError(f"{where}: 'flags' must be a list, e.g. [ignorecase]")
    for flag in flags:
        if flag not in FLAGS:
            close = did_you_mean(flag, FLAGS)
            hint = f"did you mean {close!r}?" if close else f"known flags: {', '.join(FLAGS)}"
            raise CodexError(f"{where}: unknown flag {flag!r}", hint=hint)
    group = raw.get("group", 0)
    if not isinstance(group, int) or isinstance(group, bool) or group < 0:
        raise CodexError(f"{where}: 'group' must be a capture group number (0: the whole match)")
    return Rule(name, action, (pattern,), replacement, tuple(sorted(set(flags))), group)


def _string(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise CodexError(f"{where}: {key!r} must be a string, not {type(value).__name__}")
    return value


def _check_rule(rule: Rule, source: str) -> None:
    """A rule compiles on its own, never matches empty text, and can join the combined regex."""
    where = f"{source}: rule {rule.name!r}"
    for pattern, regex in zip(rule.patterns, rule.regexes, strict=True):
        try:
            compiled = re.compile(regex)
        except re.error as exc:
            raise CodexError(f"{where}: bad regex {pattern!r}: {exc}") from None
        if _BACKREFERENCE.search(pattern):
            raise CodexError(
                f"{where}: named groups and back-references are not supported",
                hint="use plain (...) or (?:...) groups",
            )
        if compiled.fullmatch(""):
            raise CodexError(f"{where}: the pattern {pattern!r} matches empty text")
        if rule.group > compiled.groups:
            raise CodexError(f"{where}: 'group' is {rule.group} but {pattern!r} has {compiled.groups} groups")
