"""The packages talk through public names only (docs/layout.md, "Boundaries").

* codex-models reaches codex-data only through ``codex_data``'s public ``__init__``
  (``from codex_data import X``; never ``codex_data.<module>``).
* No sibling imports a ``_``-prefixed name of codex-core, or a name from a ``_``-prefixed
  core module (``codex_core.cli._output``, ``codex_core._compat``).

The check reads the source (the AST), so an import inside a function counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIBLINGS = ("codex-tokenizers", "codex-models", "codex-data", "codex-telemetry")


def _imports(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """``(line, module, name)`` for every import in ``path`` (name None for ``import m``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / "packages" / package / "src").rglob("*.py"))


def deep_data_imports(files: list[Path]) -> list[str]:
    """Imports of a codex-data submodule (``codex_data.x``)."""
    return [f"{path.name}:{line}: {module}" for path in files for line, module, _ in _imports(path)
            if module.startswith("codex_data.")]


def private_core_imports(files: list[Path]) -> list[str]:
    """Imports of a ``_``-prefixed codex-core module or name."""
    found = []
    for path in files:
        for line, module, name in _imports(path):
            if module != "codex_core" and not module.startswith("codex_core."):
                continue
            if any(part.startswith("_") and part != "__future__" for part in module.split(".")):
                found.append(f"{path.name}:{line}: {module}")
            elif name is not None and name.startswith("_") and name != "__version__":
                found.append(f"{path.name}:{line}: from {module} import {name}")
    return found


def test_codex_models_uses_only_the_public_codex_data_init() -> None:
    files = _sources("codex-models")
    assert files
    assert deep_data_imports(files) == []


@pytest.mark.parametrize("package", SIBLINGS)
def test_siblings_import_no_private_core_name(package: str) -> None:
    files = _sources(package)
    assert files
    assert private_core_imports(files) == []


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    """The two checks are not vacuous: each flags a planted import (in a function, too)."""
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from codex_data.feed import DataFeed\n"
        "def f():\n"
        "    from codex_core.runs import _fresh\n"
        "    from codex_core.cli._output import echo_json\n"
        "    import codex_data.sft\n"
        "    from codex_data import DataFeed\n"
        "    from codex_core import __version__, hookimpl\n",
        encoding="utf-8",
    )
    assert deep_data_imports([planted]) == [
        "planted.py:1: codex_data.feed",
        "planted.py:5: codex_data.sft",
    ]
    assert private_core_imports([planted]) == [
        "planted.py:3: from codex_core.runs import _fresh",
        "planted.py:4: codex_core.cli._output",
    ]
