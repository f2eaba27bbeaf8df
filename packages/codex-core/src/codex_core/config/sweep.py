"""``--sweep key=v1,v2`` grids: each combination becomes one set of overrides with a
stable id (the same assignments give the same id whatever the order of the flags)."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

from codex_core.config.overrides import parse_override
from codex_core.errors import ConfigError


@dataclass(frozen=True)
class SweepPoint:
    id: str
    overrides: tuple[str, ...]


def split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes (``[0.9,0.95],[0.8,0.9]``), each
    part stripped; unbalanced brackets or quotes are a :class:`ConfigError`."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quote or depth:
        raise ConfigError(f"unbalanced quotes or brackets in {text!r}")
    parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_sweep(text: str) -> list[str]:
    """``"a.b=1,2"`` -> ``["a.b=1", "a.b=2"]``."""
    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise ConfigError(f"invalid sweep {text!r}", hint="write --sweep key=v1,v2,...")
    options = [v for v in split_top_level(values) if v != ""]
    if not options:
        raise ConfigError(f"sweep {text!r} lists no values", hint="write --sweep key=v1,v2,...")
    out = [f"{key.strip()}={v}" for v in options]
    for item in out:
        parse_override(item)  # fail early on a bad key or value
    if len(set(out)) != len(out):
        raise ConfigError(f"sweep {text!r} lists a value twice")
    return out


def expand_sweeps(sweeps: list[str] | tuple[str, ...]) -> list[SweepPoint]:
    """The grid of all sweeps, in flag order; a single point with no overrides if none."""
    axes = [parse_sweep(s) for s in sweeps]
    keys = [a[0].partition("=")[0] for a in axes]
    if len(set(keys)) != len(keys):
        raise ConfigError("a key is swept twice", hint="give each key one --sweep with all its values")
    points = []
    for combo in itertools.product(*axes):
        canonical = "\n".join(sorted(combo))
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:8]
        points.append(SweepPoint(id=f"sweep-{digest}", overrides=tuple(combo)))
    return points
