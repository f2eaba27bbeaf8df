"""The rules of a safety policy: the :class:`Rule` type, the built-in rules as rules, and a
policy file's rules read and checked, with one-line errors naming the file and the rule.
:class:`codex_data.safety.Policy` combines them; ``docs/data-safety.md`` has the format."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from codex_core.errors import CodexError, did_you_mean
from codex_data import safety_heuristics
from codex_data.safety_rules import BUILTIN_RULES

Action = Literal["redact", "block", "allow"]
ACTIONS: tuple[str, ...] = ("redact", "block", "allow")
FLAGS: dict[str, str] = {"ignorecase": "i", "multiline": "m"}
"""Names accepted in a rule's ``flags``, and the inline flag each becomes."""
RULE_KEYS = ("name", "action", "pattern", "literal", "replacement", "flags", "group", "params", "enabled")
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
    check: str = ""
    """A check of :mod:`codex_data.safety_heuristics` deciding on each match (``group`` is the value)."""
    params: dict[str, Any] = field(default_factory=dict)
    """The check's params, defaults filled in."""

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


def builtin_rules(names: Iterable[str] | None = None) -> list[Rule]:
    """The built-in rules (all, or those named), each with its default action ``redact``."""
    chosen = BUILTIN_RULES if names is None else {n: BUILTIN_RULES[n] for n in names}
    return [_builtin(name, "redact", "", None) for name in chosen]


def _builtin(name: str, action: Action, replacement: str, params: Any, where: str = "") -> Rule:
    """Built-in rule ``name`` with this action and replacement, and for a checked rule its
    ``params`` (None: the defaults), from which its patterns are made."""
    b = BUILTIN_RULES[name]
    if not b.check:
        return Rule(name, action, b.patterns, replacement, (), b.group, b.left, b.version)
    resolved = safety_heuristics.resolve_params(b.check, params, where)
    return Rule(name, action, safety_heuristics.patterns(b.check, resolved), replacement, (), b.group, b.left,
                b.version, b.check, resolved)


# -- validation ------------------------------------------------------------------------
def check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        one_of(key, allowed, "key", where, f"known keys: {', '.join(allowed)}")


def one_of(value: Any, choices: Any, what: str, where: str, known: str) -> None:
    """Nothing when ``value`` is one of ``choices``; else one line, ``WHERE: unknown WHAT
    'VALUE'``, with a did-you-mean hint (``known`` when nothing is close)."""
    if value in choices:
        return
    close = did_you_mean(str(value), choices)
    raise CodexError(f"{where}: unknown {what} {value!r}", hint=f"did you mean {close!r}?" if close else known)


def builtin_names(value: Any, source: str) -> list[str]:
    if value is True:
        return list(BUILTIN_RULES)
    if value is False or value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CodexError(f"{source}: 'builtin' must be true, false or a list of built-in rule names")
    for name in value:
        one_of(name, BUILTIN_RULES, "built-in rule", source, f"built-in rules: {', '.join(BUILTIN_RULES)}")
    return list(dict.fromkeys(value))


def parse_rule(raw: Any, index: int, source: str) -> Rule | None:
    """The rule ``raw`` of a policy file; None for one with ``enabled: false``."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise CodexError(f"{source}: rule #{index + 1} must be a mapping with a 'name'")
    name = raw["name"]
    where = f"{source}: rule {name!r}"
    check_keys(raw, RULE_KEYS, where)
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise CodexError(f"{where}: 'enabled' must be true or false")
    if not enabled:
        return None
    takes_params = name in BUILTIN_RULES and BUILTIN_RULES[name].check and not {"pattern", "literal"} & set(raw)
    if "params" in raw and not takes_params:
        checked = ", ".join(n for n, b in BUILTIN_RULES.items() if b.check)
        raise CodexError(f"{where}: only the built-in rules {checked} take 'params'")
    action = raw.get("action", "redact")
    one_of(action, ACTIONS, "action", where, "use redact, block or allow")
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
        return _builtin(name, action, replacement, raw.get("params"), where)
    if "literal" in raw:
        pattern = re.escape(_string(raw["literal"], "literal", where))
    else:
        pattern = _string(raw["pattern"], "pattern", where)
    flags = raw.get("flags") or []
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise CodexError(f"{where}: 'flags' must be a list, e.g. [ignorecase]")
    for flag in flags:
        one_of(flag, FLAGS, "flag", where, f"known flags: {', '.join(FLAGS)}")
    group = raw.get("group", 0)
    if not isinstance(group, int) or isinstance(group, bool) or group < 0:
        raise CodexError(f"{where}: 'group' must be a capture group number (0: the whole match)")
    return Rule(name, action, (pattern,), replacement, tuple(sorted(set(flags))), group)


def _string(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise CodexError(f"{where}: {key!r} must be a string, not {type(value).__name__}")
    return value


def check_rule(rule: Rule, source: str) -> None:
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
