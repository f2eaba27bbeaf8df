"""Does an installed plugin's distribution accept this codex-core?

A tiny requirement check for the common forms (``codex-core>=1!0.3,<1!1``: release numbers
with an optional PEP 440 epoch) so that start-up does not import ``packaging`` (tens of
milliseconds); anything unusual (pre-releases, local versions, wildcards) is handed to it.
"""

from __future__ import annotations

import re
from typing import Any

_REQ = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*\(?(?P<spec>[^;)]*)\)?\s*(?:;(?P<marker>.*))?$"
)
_CLAUSE = re.compile(r"^\s*(===|==|!=|~=|>=|<=|>|<)\s*((?:[0-9]+!)?[0-9][0-9.]*)\s*$")
_VERSION = re.compile(r"(?:(?P<epoch>[0-9]+)!)?(?P<release>[0-9]+(?:\.[0-9]+)*)")


def dist_headers(dist: Any) -> tuple[str | None, str | None, list[str]]:
    """``(name, version, requires)`` of an ``importlib.metadata`` distribution, read from
    the METADATA header block directly (the stdlib route imports the ``email`` package,
    which costs several milliseconds on every ``codex`` start)."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if text is None:
        return None, None, []
    name = version = None
    requires: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            break  # the description body follows the headers
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "name":
            name = value
        elif key == "version":
            version = value
        elif key == "requires-dist":
            requires.append(value)
    return name, version, requires


def normalize(name: str) -> str:
    """PEP 503 normalised project name (``Codex_Core`` -> ``codex-core``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def core_requirement(requires: list[str] | None, core_name: str = "codex-core") -> str | None:
    """The version specifier a distribution puts on codex-core ('' for any), or None."""
    for req in requires or []:
        match = _REQ.match(req)
        if not match or normalize(match["name"]) != core_name:
            continue
        marker = (match["marker"] or "").strip()
        if marker and "extra" in marker:
            continue  # an optional extra's requirement, not the plugin's own
        return match["spec"].strip()
    return None


def _release(version: str) -> tuple[int, tuple[int, ...]] | None:
    """``(epoch, release)`` of a plain version (``1!0.3.0`` -> ``(1, (0, 3, 0))``), else None."""
    match = _VERSION.fullmatch(version.rstrip("."))
    if match is None:
        return None
    return int(match["epoch"] or 0), tuple(int(p) for p in match["release"].split("."))


def _cmp(a: tuple[int, tuple[int, ...]], b: tuple[int, tuple[int, ...]]) -> int:
    if a[0] != b[0]:
        return (a[0] > b[0]) - (a[0] < b[0])  # the epoch outranks the release numbers
    width = max(len(a[1]), len(b[1]))
    x, y = a[1] + (0,) * (width - len(a[1])), b[1] + (0,) * (width - len(b[1]))
    return (x > y) - (x < y)


def satisfies(version: str, spec: str) -> bool:
    """True when ``version`` is inside the PEP 440 specifier ``spec``."""
    if not spec:
        return True
    have = _release(version)
    clauses = [_CLAUSE.match(c) for c in spec.split(",")]
    if have is None or not all(clauses):
        from packaging.specifiers import SpecifierSet

        return SpecifierSet(spec).contains(version, prereleases=True)
    for clause in clauses:
        assert clause is not None
        op, raw = clause.groups()
        want = _release(raw)
        assert want is not None
        c = _cmp(have, want)
        ok = {
            "==": c == 0,
            "===": version == raw,
            "!=": c != 0,
            ">=": c >= 0,
            "<=": c <= 0,
            ">": c > 0,
            "<": c < 0,
            "~=": c >= 0 and have[0] == want[0] and have[1][: len(want[1]) - 1] == want[1][: len(want[1]) - 1],
        }[op]
        if not ok:
            return False
    return True
