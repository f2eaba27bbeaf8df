"""The names of a new plugin, all derived from its distribution name, and the version ranges
it declares on the codex packages.

``derive_names("codex-shapes")`` gives the distribution ``codex-shapes``, the import name
``codex_shapes``, the plugin (entry-point) name ``shapes``, which is also its command's name
and the prefix of its component names (``shapes-bytes``, ``shapes-match``, ...), so that they
cannot clash with the built-in components.
"""

from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass

from codex_core import __version__
from codex_core.errors import CodexError

_PEP508_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)

FIRST_PARTY = ("codex-core", "codex-tokenizers", "codex-data", "codex-models", "codex-telemetry")
"""The distributions of codex itself: their names, import names and plugin names are taken."""

TAKEN_IMPORT_NAMES = frozenset({
    "codex", "click", "pluggy", "pydantic", "pydantic_core", "yaml", "packaging", "pytest", "torch",
    "transformers", "tokenizers", "numpy", "peft", "safetensors", "hatchling", "setuptools", "pip",
})
"""Import names a plugin must not take because codex or its build and test tools import them."""

TORCH_REQUIREMENT = "torch>=2.6"
"""What a plugin that imports torch declares: the range codex-models declares (``torch.load``
with ``weights_only`` runs no code from 2.6 on)."""

TRANSFORMERS_REQUIREMENT = "transformers>=4.44"
"""What a plugin that builds a transformers model declares: the range codex-models declares."""


@dataclass(frozen=True)
class Names:
    """Everything a new plugin is called.

    :ivar distribution: the distribution (PyPI project) name, normalised (``codex-shapes``).
    :ivar module: the import name: ``-`` as ``_`` (``codex_shapes``).
    :ivar entry_point: the plugin's name in the ``codex`` entry-point group, the name of its
        command and the prefix of its component names: the distribution name without a
        leading ``codex-`` (``shapes``).
    """

    distribution: str
    module: str
    entry_point: str

    def component(self, suffix: str) -> str:
        """A component name of this plugin: ``<entry point>-<suffix>``."""
        return f"{self.entry_point}-{suffix}"


def normalize(name: str) -> str:
    """PEP 503 normalised project name: lowercase, runs of ``-``, ``_`` and ``.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def derive_names(name: str) -> Names:
    """The names of a plugin distributed as ``name``; a name that is not a valid distribution
    name, or whose derived names are not usable or already taken, is a one-line
    :class:`~codex_core.errors.CodexError`."""
    if not _PEP508_NAME.match(name):
        raise CodexError(f"{name!r} is not a valid distribution name",
                         hint="use letters, digits, '-', '_' and '.', starting and ending with a letter or digit "
                              "(e.g. codex-shapes)")
    distribution = normalize(name)
    module = distribution.replace("-", "_")
    entry_point = distribution.removeprefix("codex-")
    if distribution in FIRST_PARTY or distribution == "codex":
        raise CodexError(f"{distribution!r} is a distribution of codex itself", hint="choose another name")
    if module[0].isdigit():
        raise CodexError(f"{name!r} starts with a digit, so its import name {module!r} is not a Python identifier",
                         hint="start the name with a letter (e.g. codex-" + distribution + ")")
    if keyword.iskeyword(module):
        raise CodexError(f"the import name {module!r} of {name!r} is a Python keyword", hint="choose another name")
    if module in sys.stdlib_module_names or module in TAKEN_IMPORT_NAMES:
        raise CodexError(f"the import name {module!r} of {name!r} is taken by "
                         + ("the standard library" if module in sys.stdlib_module_names else "a package codex uses"),
                         hint=f"choose another name, e.g. codex-{distribution}")
    taken = _taken_plugin_names()
    if entry_point in taken:
        raise CodexError(f"the plugin name {entry_point!r} of {name!r} is taken by {taken[entry_point]}",
                         hint=f"choose another name, e.g. codex-{entry_point}-extra")
    return Names(distribution=distribution, module=module, entry_point=entry_point)


def _taken_plugin_names() -> dict[str, str]:
    """Plugin and command names a new plugin cannot have -> who has them: codex's built-in
    commands, the first-party plugins and the commands they provide."""
    from codex_core.cli.app import BUILTINS, PROVIDED_BY

    taken = {name: f"the built-in command `codex {name}`" for name in BUILTINS}
    taken.update({name: f"the command `codex {name}` of {dist}" for name, dist in PROVIDED_BY.items()})
    taken.update({dist.removeprefix("codex-"): f"the plugin of {dist}" for dist in FIRST_PARTY if dist != "codex-core"})
    return taken


def _release(version: str) -> tuple[str, int, int]:
    """``(epoch prefix, major, minor)`` of a version such as ``1!0.3.0`` (``("1!", 0, 3)``)."""
    match = re.match(r"^(?:(\d+)!)?(\d+)(?:\.(\d+))?", version)
    if match is None:
        raise ValueError(f"cannot read the version {version!r}")
    epoch = f"{match[1]}!" if match[1] else ""
    return epoch, int(match[2]), int(match[3] or 0)


def core_range(version: str = __version__) -> str:
    """The range a plugin declares on ``codex-core`` (and on its siblings, which are released
    with the same version): from this release's ``major.minor`` up to the next major release,
    in this release's epoch, e.g. ``>=1!0.3,<1!1`` for ``1!0.3.0``. The epoch keeps the
    unrelated ``codex-core`` of the public index (epoch 0) out of the range."""
    epoch, major, minor = _release(version)
    return f">={epoch}{major}.{minor},<{epoch}{major + 1}"
