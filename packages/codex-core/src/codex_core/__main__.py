"""``python -m codex_core`` is the ``codex`` command."""

from codex_core.cli import main

main()
