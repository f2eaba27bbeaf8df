"""Finding, loading and isolating plugins.

Plugins are modules named in the ``codex`` entry-point group. Each is imported inside its
own guard: a plugin that fails to import or to register is recorded with its error and
skipped, and the rest of codex works. Environment variables, applied before any import:

* ``CODEX_LOAD_PLUGINS``: comma-separated allow-list of entry-point or distribution names
  (an empty string loads none);
* ``CODEX_DISABLE_PLUGINS``: comma-separated deny-list;
* ``CODEX_STRICT_PLUGINS=1``: re-raise the first plugin failure instead of skipping it.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from codex_core import PROJECT_NAME, __version__, hookspecs
from codex_core._compat import core_requirement, dist_headers, normalize, satisfies
from codex_core.errors import PluginError, did_you_mean
from codex_core.registry import Registry

log = logging.getLogger("codex.plugins")

ENTRY_POINT_GROUP = "codex"
@dataclass
class PluginInfo:
    """What is known about one plugin, whether or not it loaded."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"
    error: str | None = None
    module: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self, components: dict[str, list[str]], installed_by: str | None = None) -> dict[str, Any]:
        """The object ``codex plugins list --json`` prints for this plugin; ``installed_by`` is
        :data:`INSTALLED_BY` when its distribution is in :func:`read_install_record`, else None."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "components": components,
            "warnings": list(self.warnings),
            "installed_by": installed_by,
        }


INSTALLED_BY = "codex plugins install"
"""The ``installed_by`` value of a plugin whose distribution that command installed."""


def install_record_path() -> Path:
    """The record of what ``codex plugins install`` installed into this environment:
    ``<sys.prefix>/share/codex/installed-plugins.json``. It lives in the environment, not in
    the user's home, because it describes the environment (another venv has its own)."""
    return Path(sys.prefix, "share", "codex", "installed-plugins.json")


def read_install_record() -> dict[str, dict[str, Any]]:
    """``{normalised distribution name: entry}`` of the distributions ``codex plugins install``
    installed here (each entry: ``distribution``, ``version``, ``plugins``: its entry-point names,
    ``requested``: named on the command line rather than pulled in as a dependency).
    Empty when there is no record. A record that cannot be read, or is not what codex writes,
    is a warning and counts as empty (the next install or uninstall writes a new one). Cheap:
    one small file, read by every ``codex plugins list``."""
    path = install_record_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read %s (%s); plugins are listed without the mark of codex plugins install", path, exc)
        return {}
    import json

    try:
        installed = json.loads(text)["installed"]
        if not isinstance(installed, dict) or not all(isinstance(e, dict) for e in installed.values()):
            raise TypeError("'installed' is not an object of objects")
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring %s: not the record codex plugins install writes (%s: %s); the next install "
                    "or uninstall replaces it", path, type(exc).__name__, exc)
        return {}
    return {normalize(str(name)): entry for name, entry in installed.items()}


def _env_list(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {normalize(item.strip()) for item in raw.split(",") if item.strip()}


def _strict() -> bool:
    return os.environ.get("CODEX_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


class PluginManager:
    """Loads plugins into a ``pluggy.PluginManager`` and builds the component registry.

    ``load_entry_points=False`` gives an isolated manager (for tests and embedding) that
    only knows the plugins passed to :meth:`register`.
    """

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._registry: Registry | None = None
        self._commands_cli: Any = None
        if load_entry_points:
            self.load_entry_points()

    # -- loading --------------------------------------------------------------------
    def load_entry_points(self) -> None:
        """Discover and load every plugin in the ``codex`` entry-point group."""
        allow = _env_list("CODEX_LOAD_PLUGINS")
        deny = _env_list("CODEX_DISABLE_PLUGINS") or set()
        found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
        for ep in found:
            self._load_entry_point(ep, allow, deny)

    def _load_entry_point(self, ep: EntryPoint, allow: set[str] | None, deny: set[str]) -> None:
        dist = ep.dist
        dist_name, dist_version, requires = dist_headers(dist) if dist is not None else (None, None, [])
        info = PluginInfo(name=ep.name, distribution=dist_name, version=dist_version, module=ep.value)
        if ep.name in self.plugins:
            info.status = "error"
            info.error = (
                f"entry-point name {ep.name!r} is used by two distributions: "
                f"{self.plugins[ep.name].distribution!r} and {dist_name!r}"
            )
            self.plugins[f"{ep.name} ({dist_name})"] = info
            if _strict():
                raise PluginError(f"plugin {ep.name!r}: {info.error}")
            return
        self.plugins[ep.name] = info
        names = {normalize(ep.name)} | ({normalize(dist_name)} if dist_name else set())
        if (allow is not None and not names & allow) or names & deny:
            info.status = "disabled"
            return
        if dist is not None:
            spec = core_requirement(requires)
            if spec is not None and not satisfies(__version__, spec):
                info.status = "incompatible"
                info.error = (
                    f"{dist_name} {info.version} requires codex-core{spec}, "
                    f"but codex-core {__version__} is installed"
                )
                if _strict():
                    raise PluginError(f"plugin {info.name!r} is incompatible: {info.error}")
                return
        try:
            module = ep.load()
        except (Exception, SystemExit) as exc:  # isolate the plugin, whatever it raised
            self._fail(info, f"import failed: {type(exc).__name__}: {exc}", exc)
            return
        self._register_module(module, info)

    def register(self, plugin: Any, name: str | None = None, *, distribution: str | None = None,
                 version: str | None = None) -> PluginInfo:
        """Register a plugin object or module directly (tests, embedding, built-ins)."""
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        info = PluginInfo(name=name, distribution=distribution, version=version,
                          module=getattr(plugin, "__name__", None))
        self.plugins[name] = info
        self._register_module(plugin, info)
        if info.status == "ok" and self._registry is not None:
            self._run_registration(self._registry, only=name)
        if info.status == "ok" and self._commands_cli is not None:
            self.add_commands(self._commands_cli, only=name)
        return info

    def _register_module(self, module: ModuleType | Any, info: PluginInfo) -> None:
        try:
            self.pm.register(module, name=info.name)
        except Exception as exc:
            self._fail(info, f"registration failed: {type(exc).__name__}: {exc}", exc)
            return
        spec_names = [n for n in dir(hookspecs) if n.startswith("codex_")]
        for hook_impl_name in _hookimpl_names(module):
            if hook_impl_name not in spec_names:
                guess = did_you_mean(hook_impl_name, spec_names)
                warning = f"hook {hook_impl_name!r} matches no codex hookspec" + (
                    f" (did you mean {guess!r}?)" if guess else ""
                )
                info.warnings.append(warning)
                log.warning("plugin %s: %s", info.name, warning)

    def _fail(self, info: PluginInfo, message: str, exc: BaseException) -> None:
        info.status = "error"
        info.error = message
        if self.pm.has_plugin(info.name):
            self.pm.unregister(name=info.name)
        if self._registry is not None:
            self._registry.remove_plugin(info.name)
        log.debug("plugin %s failed", info.name, exc_info=exc)
        if _strict():
            raise PluginError(f"plugin {info.name!r}: {message}") from exc

    # -- registry and commands ------------------------------------------------------
    @property
    def hook(self) -> Any:
        return self.pm.hook

    @property
    def registry(self) -> Registry:
        """The registry built from every loaded plugin's registration hooks (built once)."""
        if self._registry is None:
            self._registry = Registry()
            self._run_registration(self._registry)
        return self._registry

    def _run_registration(self, registry: Registry, only: str | None = None) -> None:
        for kind, hook_name in hookspecs.REGISTRATION_HOOKS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                info = self.plugins.get(impl.plugin_name)
                if info is None or info.status != "ok" or only not in (None, impl.plugin_name):
                    continue
                try:
                    _call(impl, register=registry.register_fn(kind, impl.plugin_name))
                except Exception as exc:
                    self._fail(info, f"{hook_name} failed: {type(exc).__name__}: {exc}", exc)

    def add_commands(self, cli: Any, only: str | None = None) -> None:
        """Let every loaded plugin add its sub-commands to ``cli`` (once).

        A command whose name a built-in or an earlier plugin already uses is not added;
        the plugin gets a warning naming both.
        """
        if self._commands_cli is cli and only is None:
            return
        self._commands_cli = cli
        reserved = set(getattr(cli, "reserved_names", ()))
        owners: dict[str, str] = getattr(cli, "command_owners", {})
        for impl in self.pm.hook.codex_register_commands.get_hookimpls():
            info = self.plugins.get(impl.plugin_name)
            if info is None or info.status != "ok" or only not in (None, impl.plugin_name):
                continue
            before = dict(cli.commands)
            try:
                _call(impl, cli=cli)
            except Exception as exc:
                cli.commands.clear()
                cli.commands.update(before)
                self._fail(info, f"codex_register_commands failed: {type(exc).__name__}: {exc}", exc)
                continue
            for name, command in list(cli.commands.items()):
                if before.get(name) is command:
                    continue
                taken_by = "codex itself" if name in reserved else owners.get(name)
                if taken_by is None and name in before:
                    taken_by = "another plugin"
                if taken_by is not None:
                    if name in before:
                        cli.commands[name] = before[name]
                    else:
                        del cli.commands[name]
                    warning = f"command {name!r} is already provided by {taken_by}; not added"
                    info.warnings.append(warning)
                    log.warning("plugin %s: %s", info.name, warning)
                else:
                    owners[name] = info.name

    def infos(self) -> list[PluginInfo]:
        """Every plugin seen, sorted by name (the registry is built first, so
        registration failures are included)."""
        _ = self.registry
        return sorted(self.plugins.values(), key=lambda i: i.name)

    def component_table(self, info: PluginInfo) -> dict[str, list[str]]:
        if info.status != "ok":
            return {}
        return self.registry.by_plugin(info.name)

    def versions(self) -> dict[str, str]:
        """``{distribution: version}`` of the loaded plugins' distributions."""
        return {
            i.distribution: i.version
            for i in self.infos()
            if i.distribution and i.version and i.status == "ok"
        }


def _call(impl: Any, **available: Any) -> Any:
    """Call a hook implementation with the subset of arguments it declares (as pluggy
    does), so implementations may accept fewer arguments than the spec offers."""
    return impl.function(*[available[name] for name in impl.argnames])


def _hookimpl_names(module: Any) -> list[str]:
    marker_attr = f"{PROJECT_NAME}_impl"
    names = []
    for name in dir(module):
        try:
            obj = getattr(module, name)
        except Exception:  # a lazy module attribute that fails is not a hook
            continue
        if callable(obj) and hasattr(obj, marker_attr):
            names.append(name)
    return names


_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, loading entry points on first use."""
    global _manager
    if _manager is None:
        _manager = PluginManager()
    return _manager


def reset_plugin_manager(manager: PluginManager | None = None) -> None:
    """Drop (or replace) the process-wide manager; the next use reloads plugins."""
    global _manager
    _manager = manager

