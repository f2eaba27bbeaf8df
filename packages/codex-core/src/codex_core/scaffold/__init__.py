"""``codex plugins new``: a complete plugin distribution from templates.

:func:`create` derives the names (:func:`derive_names`), renders the templates of
``templates/`` for the chosen kinds (:func:`render`) and writes the folder atomically
(:func:`write_tree`). The templates are plain files shipped in the codex-core wheel.
"""

from __future__ import annotations

from codex_core.scaffold.names import Names, core_range, derive_names, normalize
from codex_core.scaffold.render import (
    COMPONENT_SUFFIXES,
    DEFAULT_KINDS,
    SCAFFOLD_KINDS,
    Scaffold,
    component_names,
    create,
    dependencies,
    parse_kinds,
    render,
    write_tree,
)

__all__ = [
    "COMPONENT_SUFFIXES",
    "DEFAULT_KINDS",
    "SCAFFOLD_KINDS",
    "Names",
    "Scaffold",
    "component_names",
    "core_range",
    "create",
    "dependencies",
    "derive_names",
    "normalize",
    "parse_kinds",
    "render",
    "write_tree",
]
