"""Pytest fixtures for plugin authors (loaded automatically through the ``pytest11``
entry point when codex-core is installed).

* ``codex_plugin_manager``: an isolated plugin manager that loads no entry points, made the
  process-wide manager for the test (so ``codex`` commands run in-process see only it).
* ``codex_registry``: that manager's component registry.
* ``register_codex_plugin(plugin, name=...)``: register a plugin module or object for one
  test; returns its ``PluginInfo`` (``status`` is ``"ok"`` or ``"error"``).
* ``codex_installed_registry``: the registry of the installed plugins (their ``codex``
  entry points), loaded afresh for the test.
* ``codex_home``: a temporary ``CODEX_HOME`` and ``CODEX_RUNS_DIR`` for the test.
* ``codex_elsewhere``: the working directory moved to a fresh folder, so a config file's
  relative paths (``ConfigPath`` fields) must resolve from the file's own folder; write the
  files with :func:`write_text`.

Example::

    def test_my_tokenizer(register_codex_plugin, codex_registry):
        register_codex_plugin(my_plugin_module)
        tok = codex_registry.build("tokenizer", "my-tok")
        assert tok.decode(tok.encode("hi").ids) == "hi"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.plugins import PluginInfo, PluginManager
    from codex_core.registry import Registry


@pytest.fixture
def codex_plugin_manager() -> Iterator[PluginManager]:
    from codex_core import plugins

    previous = plugins._manager
    manager = plugins.PluginManager(load_entry_points=False)
    plugins.reset_plugin_manager(manager)
    try:
        yield manager
    finally:
        plugins.reset_plugin_manager(previous)


@pytest.fixture
def codex_registry(codex_plugin_manager: PluginManager) -> Registry:
    return codex_plugin_manager.registry


@pytest.fixture
def register_codex_plugin(codex_plugin_manager: PluginManager) -> Callable[..., PluginInfo]:
    def register(plugin: Any, name: str | None = None, **kwargs: Any) -> PluginInfo:
        info = codex_plugin_manager.register(plugin, name, **kwargs)
        _ = codex_plugin_manager.registry  # run the registration hooks now
        return info

    return register


@pytest.fixture
def codex_installed_registry() -> Registry:
    from codex_core.plugins import PluginManager

    return PluginManager().registry


@pytest.fixture
def codex_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "codex-home"
    monkeypatch.setenv("CODEX_HOME", str(home / "cache"))
    monkeypatch.setenv("CODEX_RUNS_DIR", str(home / "runs"))
    return home


@pytest.fixture
def codex_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text``, dedented, to ``path`` (its folders made as needed); returns the path."""
    import textwrap

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> Path:
    """Write one JSON object a line to ``path`` (a ``str`` row is written as it is, for a
    malformed line); returns the path."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


DAMAGE = ("truncate", "flip", "delete")
"""The ways :func:`damage_file` damages a file, as storage does."""


def damage_file(path: str | Path, how: str, edit: Callable[[Any], Any] | None = None) -> None:
    """Damage ``path`` as storage does: ``truncate`` it to half its size, ``flip`` one bit of its
    middle byte (same size: only a hash can tell), ``delete`` it; or ``edit``: read it as JSON,
    apply ``edit`` (which changes the object in place or returns a new one) and write it back
    as valid JSON, as a person editing the file would."""
    import json

    path = Path(path)
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "flip":
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif how == "delete":
        path.unlink()
    elif how == "edit" and edit is not None:
        fields = json.loads(data)
        changed = edit(fields)
        path.write_text(json.dumps(fields if changed is None else changed, indent=1), encoding="utf-8")
    else:
        raise ValueError(f"unknown damage {how!r} (use one of {', '.join(DAMAGE)}, or edit with a function)")
