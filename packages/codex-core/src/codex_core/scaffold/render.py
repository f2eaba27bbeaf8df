"""Render and write a new plugin distribution from the templates in ``templates/``.

Templates are plain files filled with :class:`string.Template` (``$name`` placeholders, ``$$``
for a dollar sign; core has no template engine). A line that starts with ``#?KIND `` is kept,
without that prefix, only when the plugin has components of ``KIND``; ``#?!KIND `` only when it
has none. That is the whole template language.

:func:`render` returns the files as ``{relative path: text}``; :func:`write_tree` writes them
atomically (into a temporary folder next to the target, renamed into place at the end), so a
failure leaves nothing behind.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from codex_core.errors import CodexError, did_you_mean
from codex_core.registry import KINDS
from codex_core.scaffold.names import (
    TORCH_REQUIREMENT,
    TRANSFORMERS_REQUIREMENT,
    Names,
    core_range,
    derive_names,
)

SCAFFOLD_KINDS: tuple[str, ...] = (*KINDS, "command")
"""What a new plugin can provide: the component kinds, and a ``codex`` sub-command."""

DEFAULT_KINDS: tuple[str, ...] = ("metric",)

VERSION = "0.1.0"
"""The first version of a new plugin."""


COMPONENT_SUFFIXES: dict[str, str] = {
    "tokenizer": "bytes",
    "model": "tiny-gpt",
    "dataset": "lines",
    "connector": "folder",
    "metric": "match",
    "logger": "jsonl",
    "task": "continue",
}
"""Kind -> the suffix of its example component's name (``<entry point>-<suffix>``); the
command is named after the plugin. Each kind's templates are ``package/<kind>.py.tmpl`` (the
component), ``hooks/<kind>.py.tmpl`` (its registration) and ``tests/test_<kind>.py.tmpl``."""

_CONDITION = re.compile(r"^#\?(!?)([a-z]+) ?")


def parse_kinds(values: Iterable[str]) -> tuple[str, ...]:
    """The kinds named by ``--kind`` values (each comma-separated; ``all`` for every kind), in
    :data:`SCAFFOLD_KINDS` order; an unknown kind is an error with a did-you-mean hint."""
    wanted: set[str] = set()
    for value in values:
        for item in value.split(","):
            kind = item.strip().lower()
            if not kind:
                continue
            if kind == "all":
                wanted.update(SCAFFOLD_KINDS)
                continue
            if kind not in SCAFFOLD_KINDS:
                guess = did_you_mean(kind, [*SCAFFOLD_KINDS, "all"])
                raise CodexError(f"unknown kind {item.strip()!r}" + (f"; did you mean {guess!r}?" if guess else ""),
                                 hint=f"kinds: {', '.join(SCAFFOLD_KINDS)} (comma-separated), or all")
            wanted.add(kind)
    if not wanted:
        raise CodexError("--kind names no kind", hint=f"e.g. --kind metric or --kind {','.join(SCAFFOLD_KINDS[:3])}")
    return tuple(kind for kind in SCAFFOLD_KINDS if kind in wanted)


def component_names(names: Names, kinds: Iterable[str]) -> dict[str, list[str]]:
    """``{kind: [name]}`` of what a plugin with ``kinds`` registers (the command by its name)."""
    return {kind: [names.entry_point if kind == "command" else names.component(COMPONENT_SUFFIXES[kind])]
            for kind in kinds}


def dependencies(kinds: Iterable[str], version_range: str) -> list[str]:
    """The requirements of a plugin with ``kinds``: codex-core; codex-models (the training
    engine and the evaluation runner), torch and transformers for a model; codex-models for a
    task; codex-data for a dataset without a connector of its own (it reads through codex-data's
    ``file`` connector). Every other kind needs nothing but codex-core."""
    kinds = set(kinds)
    found = [f"codex-core{version_range}"]
    if kinds & {"model", "task"}:
        found.append(f"codex-models{version_range}")
    if "dataset" in kinds and "connector" not in kinds:
        found.append(f"codex-data{version_range}")
    if "model" in kinds:
        found += [TORCH_REQUIREMENT, TRANSFORMERS_REQUIREMENT]
    return found


def _read(name: str) -> str:
    return resources.files("codex_core.scaffold").joinpath("templates", name).read_text(encoding="utf-8")


def fill(text: str, values: Mapping[str, str], kinds: Iterable[str]) -> str:
    """``text`` with its ``#?KIND`` lines kept or dropped for ``kinds`` and its placeholders
    filled from ``values`` (a placeholder without a value is a ``KeyError``: a template bug)."""
    chosen = set(kinds)
    kept = []
    for line in text.splitlines(keepends=True):
        match = _CONDITION.match(line)
        if match is not None:
            negate, kind = match[1] == "!", match[2]
            if kind not in SCAFFOLD_KINDS:
                raise ValueError(f"template condition names an unknown kind {kind!r}: {line!r}")
            if (kind in chosen) == negate:
                continue
            line = line[match.end():]
        kept.append(line)
    return string.Template("".join(kept)).substitute(values)


def template_values(names: Names, kinds: Iterable[str]) -> dict[str, str]:
    """The values of the templates' placeholders."""
    kinds = tuple(kinds)
    version_range = core_range()
    values = {
        "distribution": names.distribution,
        "module": names.module,
        "entry_point": names.entry_point,
        "version": VERSION,
        "core_range": version_range,
        "summary": _summary(kinds),
        "dependencies": "".join(f'  "{req}",\n' for req in dependencies(kinds, version_range)),
        "command_name": names.entry_point,
        "logger_file": f"{names.entry_point}-metrics.jsonl",
    }
    values.update({f"{kind}_name": names.component(suffix) for kind, suffix in COMPONENT_SUFFIXES.items()})
    values["default_connector"] = values["connector_name"] if "connector" in kinds else "file"
    registered = {kind: found for kind, found in component_names(names, kinds).items() if kind != "command"}
    values["components_literal"] = _literal([f'"{kind}": {json.dumps(found)}' for kind, found in registered.items()],
                                            "{", "}")
    values["component_pairs"] = _literal([json.dumps([kind, name]) for kind, found in registered.items()
                                          for name in found], "[", "]")
    return values


def _summary(kinds: tuple[str, ...]) -> str:
    """``a metric`` or ``a tokenizer, a model and a command``: what a plugin with ``kinds`` provides."""
    words = [f"an {kind}" if kind[0] in "aeiou" else f"a {kind}" for kind in kinds]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _literal(items: list[str], start: str, end: str) -> str:
    """A Python dict or list literal of ``items``, one a line (as ruff's formatter would write it)."""
    if not items:
        return start + end
    return start + "\n" + "".join(f"    {item},\n" for item in items) + end


def _plugin_module(values: Mapping[str, str], kinds: tuple[str, ...]) -> str:
    """``plugin.py``: the module docstring and imports, then one hook per kind."""
    type_imports = []
    if "command" in kinds:
        type_imports.append("    import click\n")
    if set(kinds) - {"command"}:
        type_imports.append("    from codex_core.registry import RegisterFn\n")
    head = fill(_read("package/plugin.py.tmpl"), {**values, "type_imports": "".join(type_imports)}, kinds)
    hooks = [fill(_read(f"hooks/{kind}.py.tmpl"), values, kinds) for kind in kinds]
    return head + "\n" + "\n\n".join(hooks)


def render(names: Names, kinds: Iterable[str]) -> dict[str, str]:
    """Every file of a new plugin distribution: ``{relative path: text}``."""
    kinds = tuple(k for k in SCAFFOLD_KINDS if k in set(kinds))
    values = template_values(names, kinds)
    package = f"src/{names.module}"
    files = {
        "pyproject.toml": fill(_read("pyproject.toml.tmpl"), values, kinds),
        "README.md": fill(_read("README.md.tmpl"), values, kinds),
        ".gitignore": _read("gitignore.tmpl"),
        "LICENSE": _read("LICENSE.tmpl"),
        f"{package}/__init__.py": fill(_read("package/__init__.py.tmpl"), values, kinds),
        f"{package}/plugin.py": _plugin_module(values, kinds),
        "tests/test_plugin.py": fill(_read("tests/test_plugin.py.tmpl"), values, kinds),
    }
    for kind in kinds:
        files[f"{package}/{kind}.py"] = fill(_read(f"package/{kind}.py.tmpl"), values, kinds)
        files[f"tests/test_{kind}.py"] = fill(_read(f"tests/test_{kind}.py.tmpl"), values, kinds)
    return dict(sorted(files.items()))


def check_target(target: Path) -> None:
    """A one-line error, before anything is written, when ``target`` cannot be made: it
    exists and is not an empty folder, or its parent is not a folder."""
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise CodexError(f"cannot create {target}: {parent} is not a folder", hint="give -o an existing folder")
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise CodexError(f"{target} already exists and is not a folder",
                         hint="choose another NAME or -o DIR, or remove it")
    if target.is_dir() and any(target.iterdir()):
        raise CodexError(f"{target} already exists and is not empty",
                         hint="choose another NAME or -o DIR, or remove it first")


def write_tree(files: Mapping[str, str], target: Path) -> Path:
    """Write ``files`` (relative path -> text) as the folder ``target``, atomically: into a
    temporary folder next to it, renamed to ``target`` once complete. On any failure the
    temporary folder is removed and ``target`` is as it was."""
    from codex_core.errors import WriteError
    from codex_core.fsutil import atomic_dir

    check_target(target)
    elsewhere = "choose another folder with -o DIR"
    try:
        with atomic_dir(target) as staging:
            for relative, text in files.items():
                path = staging / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    except WriteError as exc:  # no space, no permission, a read-only filesystem: said once, for the target
        raise CodexError(exc.message, hint=f"{elsewhere}, or make room or access there") from None
    except OSError as exc:
        if isinstance(exc, FileExistsError) and target.is_dir() and any(target.iterdir()):
            # Something appeared at the target while the files were written: it is left as it is.
            raise CodexError(f"{target} already exists and is not empty",
                             hint="choose another NAME or -o DIR, or remove it first") from None
        raise CodexError(f"cannot write {target}: {exc.strerror or exc}", hint=elsewhere) from None
    return target


@dataclass(frozen=True)
class Scaffold:
    """A plugin distribution written by :func:`create`."""

    path: Path
    names: Names
    kinds: tuple[str, ...]
    files: list[str] = field(default_factory=list)

    @property
    def components(self) -> dict[str, list[str]]:
        return component_names(self.names, self.kinds)

    def as_dict(self) -> dict[str, object]:
        """What ``codex plugins new --json`` prints."""
        return {"path": str(self.path.absolute()), "distribution": self.names.distribution,
                "module": self.names.module, "entry_point": self.names.entry_point,
                "components": self.components, "files": self.files}


def create(name: str, kinds: Iterable[str] = DEFAULT_KINDS, parent: str | Path = ".") -> Scaffold:
    """Write a new plugin distribution named ``name`` with example components of ``kinds``
    into the folder ``<parent>/<distribution name>``; returns what was written."""
    names = derive_names(name)
    kinds = parse_kinds(kinds)
    target = Path(parent) / names.distribution
    check_target(target)
    files = render(names, kinds)
    write_tree(files, target)
    return Scaffold(path=target, names=names, kinds=kinds, files=list(files))
