"""Safety filters: redact secrets and personal data, or drop documents, before tokenizing.

A :class:`Policy` is a list of named rules (``redact``, ``block`` or ``allow``) plus the
built-in rules of :mod:`codex_data.safety_rules`; the format is in ``docs/data-safety.md``
(rules are read and checked in :mod:`codex_data.safety_config`). The redact and block rules
of a policy are compiled into at most three regular expressions with a group per rule (the
policy's own patterns, the built-in ones, and the two built-ins decided by a check of
:mod:`codex_data.safety_heuristics`), so a document is scanned at most three times whatever
the number of rules. :class:`SafetyFilter` applies a policy to documents, and to the texts
codex writes about data (:meth:`SafetyFilter.redact`, :meth:`SafetyFilter.redact_part`).
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
from typing import Any

from codex_core.errors import CodexError
from codex_core.protocols import Document
from codex_data import safety_heuristics
from codex_data.safety_config import (  # noqa: F401  (ACTIONS, FLAGS, RULE_KEYS, Action: re-exported)
    ACTIONS,
    FLAGS,
    RULE_KEYS,
    Action,
    Rule,
    builtin_names,
    builtin_rules,
    check_keys,
    check_rule,
    parse_rule,
)

POLICY_KEYS = ("builtin", "rules")
FORMAT_VERSION = 1
"""Bumped when the meaning of a policy changes (e.g. how matches are combined)."""


@dataclass(frozen=True)
class FilterResult:
    """The filtered text, whether a block rule matched, and the matches per rule."""

    text: str
    blocked: bool = False
    counts: dict[str, int] = field(default_factory=dict)


Found = tuple[int, int, int, Rule, tuple[int, int]]
"""A match: ``(start, priority, end, rule, span to replace)``."""


class _Matcher:
    """One regex for many rules: alternative ``i`` ends with an empty marker group, so a
    match's ``lastindex`` says which rule matched (and where that rule's groups are).

    A rule with a check keeps a match only where the check accepts its value and ``specific``
    (the policy's other rules) finds nothing inside it; otherwise the scan goes on from the
    match's next character, as if the rule had not matched there."""

    def __init__(self, rules: list[Rule], priority: int = 0, specific: re.Pattern[str] | None = None) -> None:
        self.priority = priority
        self.specific = specific
        self.rules: dict[int, Rule] = {}
        self.groups: dict[int, int] = {}
        self.checks: dict[int, safety_heuristics.Check] = {}
        alternatives = []
        index = 0
        for rule in rules:
            check = safety_heuristics.CHECKS[rule.check](rule.params) if rule.check else None
            for regex in rule.regexes:
                alternatives.append(f"{regex}()")
                base, index = index, index + re.compile(regex).groups + 1
                self.rules[index] = rule
                self.groups[index] = base + rule.group if rule.group else 0
                if check is not None:
                    self.checks[index] = check
        self.regex = re.compile("|".join(alternatives)) if alternatives else None

    def matches(self, text: str) -> Iterator[Found]:
        """Each match, in text order."""
        if self.regex is None:
            return
        search, pos = self.regex.search, 0
        while (m := search(text, pos)) is not None:
            marker = m.lastindex or 0
            group = self.groups[marker]
            span = m.span(group) if group and m.start(group) >= 0 else m.span()
            check = self.checks.get(marker)
            if check is not None:
                found = check(text, *span)
                if found is None or (self.specific is not None and self.specific.search(text, *found)):
                    pos = m.start() + 1
                    continue
                span = found
            pos = max(span[1], m.start() + 1) if check is not None else m.end()
            yield m.start(), self.priority, pos, self.rules[marker], span


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
            check_rule(rule, source)
        active = [r for r in self.rules if r.action == "block"] + [
            r for r in self.rules if r.action == "redact"
        ]
        checked = [r for r in active if r.check]
        specific = _Matcher([r for r in active if not r.check]).regex if checked else None
        # Built-in patterns are literal-led and fast together; a policy's own patterns may not be. The
        # checked rules start at common characters (quotes, "=", "t" of token): a scan of their own
        # keeps the others' fast.
        self._matchers = [
            m
            for m in (
                _Matcher([r for r in active if r.version is None and not r.check], priority=0),
                _Matcher([r for r in active if r.version is not None and not r.check], priority=1),
                _Matcher(checked, priority=2, specific=specific),
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

        from codex_core.config import read_text_file

        path = Path(path)
        text = read_text_file(path, "safety policy", error=CodexError)  # missing, a folder, not UTF-8: one line
        try:
            data = yaml.safe_load(text)
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
        check_keys(data, POLICY_KEYS, source)
        builtins = builtin_names(data.get("builtin", True), source)
        raw_rules = data.get("rules") or []
        if not isinstance(raw_rules, list):
            raise CodexError(f"{source}: 'rules' must be a list of rules")
        own: dict[str, Rule | None] = {}
        for i, raw in enumerate(raw_rules):
            rule = parse_rule(raw, i, source)
            if raw["name"] in own:
                raise CodexError(f"{source}: rule {raw['name']!r}: defined twice")
            own[raw["name"]] = rule  # None: enabled: false
        inherited = [r for r in builtin_rules(builtins) if r.name not in own]
        return cls([*(r for r in own.values() if r is not None), *inherited], source=source)

    def fingerprint(self) -> str:
        """sha256 of the canonical policy: every rule, its order, and the built-in versions."""
        rules = [{k: v for k, v in dataclasses.asdict(r).items() if v or k not in ("check", "params")}
                 for r in self.rules]  # without the empty new fields: fingerprints of older policies hold
        canonical = {"format": FORMAT_VERSION, "rules": rules}
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode("utf-8")).hexdigest()

    def apply(self, text: str, spans: list[tuple[int, int, Rule]] | None = None) -> FilterResult:
        """Redact ``text``; ``blocked`` is True when a block rule matched. ``spans``, if given,
        gets ``(start, end, rule)`` of each redacted span and block match in ``text``."""
        counts: dict[str, int] = {}
        if not self._matchers:
            return FilterResult(text, False, counts)
        if len(self._matchers) == 1:
            found: Iterable[Found] = self._matchers[0].matches(text)
        else:
            found = heapq.merge(*(m.matches(text) for m in self._matchers), key=lambda t: t[:2])
        allowed = self._allowed(text)
        pieces: list[str] = []
        pos = taken = 0  # end of the text copied to pieces; end of the last match taken
        blocked = False
        for start, _, end, rule, span in found:
            if start < taken:
                continue  # overlaps a match already taken (from the other matcher)
            if rule.left:
                if (start := _extend_left(text, start, taken, rule.left)) < 0:
                    continue
                span = (start, span[1])
            taken = end
            if allowed and (spared := _overlap(allowed, start, end)):
                counts[spared] = counts.get(spared, 0) + 1
                continue
            counts[rule.name] = counts.get(rule.name, 0) + 1
            if rule.action == "block":
                blocked = True
                if spans is not None:
                    spans.append((start, end, rule))
                continue
            start, end = span
            if spans is not None:
                spans.append((start, end, rule))
            pieces += (text[pos:start], rule.replacement)
            pos = end
        if pieces:
            pieces.append(text[pos:])
            text = "".join(pieces)
        return FilterResult(text, blocked, counts)

    def _allowed(self, text: str) -> tuple[list[int], list[int], list[str]] | None:
        """The spans matched by allow rules, as sorted starts, ends and rule names."""
        spans = [(start, end, rule.name) for start, _, end, rule, _ in self._allow.matches(text)]
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

    def redact(self, record: Any, *, keep: tuple[str, ...] = ("id",)) -> Any:
        """``record`` (a text, or a JSON-like dict or list) with every text in it filtered, for
        what codex writes about data (evaluation samples, printed previews); counted as one
        document. A text a block rule matches becomes ``[BLOCKED]``: the record stays, so that
        it still lines up with its unit. The values of a dict's ``keep`` keys are left as they are."""
        changed = [False, False]  # redacted, blocked

        def walk(value: Any) -> Any:
            if isinstance(value, str):
                result = self.policy.apply(value)
                self.counts.update(result.counts)
                changed[0] |= result.text is not value
                changed[1] |= result.blocked
                return "[BLOCKED]" if result.blocked else result.text
            if isinstance(value, Mapping):
                return {k: v if k in keep else walk(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [walk(v) for v in value]
            return value

        out = walk(record)
        self.documents += 1
        if changed[1]:
            self.blocked += 1
            if isinstance(record, Mapping) and "id" in record:
                self.blocked_ids.append(str(record["id"]))
        elif changed[0]:
            self.redacted += 1
        return out

    def redact_part(self, before: str, text: str, after: str) -> str:
        """``text`` with the redactions the policy makes in ``before + text + after`` that
        overlap it (a window cut out of longer text: a secret across its edge is found whole and
        its part inside the window replaced); ``[BLOCKED]`` if a block match overlaps it."""
        spans: list[tuple[int, int, Rule]] = []
        self.policy.apply(before + text + after, spans)
        lo, hi = len(before), len(before) + len(text)
        inside = [(s, e, rule) for s, e, rule in spans if s < hi and e > lo]
        self.documents += 1
        self.counts.update(rule.name for _, _, rule in inside)
        if any(rule.action == "block" for _, _, rule in inside):
            self.blocked += 1
            return "[BLOCKED]"
        pieces: list[str] = []
        pos = 0
        for s, e, rule in inside:
            pieces += (text[pos:max(s - lo, 0)], rule.replacement)
            pos = min(e, hi) - lo
        self.redacted += bool(inside)
        return "".join(pieces) + text[pos:] if inside else text

    def summary(self) -> dict[str, Any]:
        """What the manifest records: the policy fingerprint and the totals."""
        return {
            "policy": self.policy.fingerprint(),
            "documents": self.documents,
            "blocked": self.blocked,
            "redacted": self.redacted,
            "counts": dict(sorted(self.counts.items())),
        }

