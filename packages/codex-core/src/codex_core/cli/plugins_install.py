"""``codex plugins install`` and ``codex plugins uninstall``: pip, run in codex's own environment,
with codex's packages and torch held where they are.

``install`` runs ``python -m pip install`` (the Python that runs codex, so the plugin lands beside
it) with a constraints file that pins every installed first-party distribution and torch to its
installed version. A plugin can then never replace them: when it needs another version, pip's
resolver fails before anything is changed, and the conflict is reported as one line. pip adds
``-c`` files to the constraints of ``PIP_CONSTRAINT`` and of its configuration files (the
constraint option is a list whose configured value the command line extends), so the user's own
constraints still apply. What the command installed (pip's ``--report``) and which of it are
codex plugins is recorded in the environment (:func:`codex_core.plugins.install_record_path`),
for the mark in ``codex plugins list``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from codex_core._compat import dist_headers, normalize
from codex_core.errors import CodexError, did_you_mean

log = logging.getLogger("codex.plugins")

FIRST_PARTY = ("codex-core", "codex-tokenizers", "codex-data", "codex-models", "codex-telemetry")
PINNED = (*FIRST_PARTY, "torch")
"""What ``codex plugins install`` never replaces (the first-party distributions and torch)."""
MIN_PIP = (22, 2)  # the first pip with ``install --report``
WHAT_PINS = "codex plugins install never replaces torch or codex's own packages"


# -- the environment -------------------------------------------------------------------
@dataclass(frozen=True)
class Installed:
    """One installed distribution: its name as it spells it, its version, its codex plugins."""

    name: str
    version: str
    plugins: tuple[str, ...] = ()


def installed_distributions() -> dict[str, Installed]:
    """Every distribution this Python sees, by normalised name (the first of a name on
    ``sys.path`` wins, as for imports), with the ``codex`` entry points each declares."""
    import importlib
    from importlib.metadata import distributions, entry_points

    importlib.invalidate_caches()  # pip, run meanwhile, may have changed site-packages
    plugins: dict[str, list[str]] = {}
    for ep in entry_points(group="codex"):
        if ep.dist is not None:
            plugins.setdefault(normalize(ep.dist.name), []).append(ep.name)
    found: dict[str, Installed] = {}
    for dist in distributions():
        name, version, _ = dist_headers(dist)
        if name and version and normalize(name) not in found:
            found[normalize(name)] = Installed(name, version, tuple(sorted(plugins.get(normalize(name), ()))))
    return found


def pins(installed: dict[str, Installed]) -> dict[str, str]:
    """``{name: installed version}`` of the :data:`PINNED` distributions that are installed."""
    return {name: installed[name].version for name in PINNED if name in installed}


def constraints_text(pinned: dict[str, str]) -> str:
    """The constraints file handed to pip with ``-c``: one ``name==version`` line per pin."""
    lines = [f"# Written by codex plugins install: {WHAT_PINS}."]
    return "\n".join(lines + [f"{name}=={version}" for name, version in pinned.items()]) + "\n"


# -- what the user asked for -----------------------------------------------------------
_ARCHIVES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


def requested_name(arg: str) -> str | None:
    """The normalised project name of an install argument, when it can be told without building
    anything: a requirement (``name[extra]>=1``, ``name @ url``), a wheel or sdist file, or a
    project folder with a ``pyproject.toml`` naming it. None otherwise (a URL, a folder without
    static metadata): the constraints still hold for those."""
    path = Path(arg)
    if "://" not in arg and (path.is_dir() or arg.endswith(_ARCHIVES)):
        if path.is_dir():
            return _project_folder_name(path)
        if arg.endswith(".whl"):
            from packaging.utils import InvalidWheelFilename, parse_wheel_filename

            try:
                return str(parse_wheel_filename(path.name)[0])
            except InvalidWheelFilename:
                return None
        stem = next(path.name[: -len(s)] for s in _ARCHIVES if path.name.endswith(s))
        return normalize(stem.rpartition("-")[0]) if "-" in stem else None
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return normalize(Requirement(arg).name)
    except InvalidRequirement:
        return None


def _project_folder_name(folder: Path) -> str | None:
    try:
        import tomllib
    except ImportError:  # Python 3.10: no TOML reader in the standard library
        return None
    try:
        with open(folder / "pyproject.toml", "rb") as handle:
            name = tomllib.load(handle).get("project", {}).get("name")
    except (OSError, ValueError):
        return None
    return normalize(name) if isinstance(name, str) else None


def _looks_like_a_path(arg: str) -> bool:
    return "://" not in arg and " @ " not in arg and ("/" in arg or os.sep in arg or arg.endswith(_ARCHIVES))


def _check_inputs(names: tuple[str, ...], editables: tuple[str, ...], find_links: tuple[str, ...],
                  installed: dict[str, Installed]) -> list[CodexError]:
    """Every reason not to run pip: a pinned distribution asked for, a file that is not there."""
    errors = []
    upgrade = " ".join(installed[n].name for n in FIRST_PARTY if n in installed) or "codex-core"
    for arg in (*names, *editables):
        if (_looks_like_a_path(arg) or arg in editables) and "://" not in arg and not Path(arg).exists():
            errors.append(CodexError(f"no such file or folder: {arg}",
                                     hint="give a project name (with an optional version), a wheel, an sdist "
                                          "or a project folder"))
            continue
        name = requested_name(arg)
        if name not in PINNED:
            continue
        here = installed.get(name)
        if here is not None:
            why = f"{here.name} {here.version} is installed and pinned ({WHAT_PINS})"
        else:
            why = f"{name} is {'torch' if name == 'torch' else 'part of codex'}, not a plugin"
        if name == "torch":
            how = "change torch with pip itself (python -m pip install torch==VERSION), then check the plugins " \
                  "with codex plugins list"
        elif here is not None:
            how = (f"upgrade codex with pip itself, from your wheels or private index: python -m pip install -U "
                   f"--find-links DIR {upgrade} (docs/install.md)")
        else:
            how = f"install it with pip itself, from your wheels or private index: python -m pip install --find-links DIR {name}"
        errors.append(CodexError(f"refusing to install {arg}: {why}", hint=how))
    for link in find_links:
        if "://" not in link and not Path(link).exists():
            errors.append(CodexError(f"--find-links: no such folder or file: {link}"))
    return errors


def _refuse(errors: list[CodexError]) -> None:
    """One ``error:`` line per error (the last raised, for the exit status), when there are any."""
    if not errors:
        return
    for error in errors[:-1]:
        click.echo(f"error: {error}", err=True)
    raise errors[-1]


# -- pip ---------------------------------------------------------------------------------
def _check_pip() -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        have = version("pip")
    except PackageNotFoundError:
        raise CodexError(f"pip is not installed in codex's environment ({sys.prefix})",
                         hint="install it: python -m ensurepip --upgrade") from None
    from packaging.version import InvalidVersion, Version

    try:
        too_old = Version(have).release < MIN_PIP
    except InvalidVersion:
        return
    if too_old:
        raise CodexError(f"pip {have} is too old for codex plugins install (it needs pip {'.'.join(map(str, MIN_PIP))} "
                         "or later, for --report)", hint="upgrade it: python -m pip install -U pip")


def run_pip(args: list[str], *, echo: bool) -> tuple[int, str]:
    """``python -m pip ARGS`` with this Python; ``(exit status, its output)``. With ``echo`` the
    output is also passed on to stderr as it comes (``codex -v``), and pip may prompt."""
    argv = [sys.executable, "-m", "pip", *args]
    log.debug("running %s", " ".join(argv))
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                          stdin=None if echo else subprocess.DEVNULL, env=env) as proc:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if echo:
                click.echo(line, nl=False, err=True)
    return proc.returncode, "".join(lines)


def conflict_line(output: str, pinned: dict[str, str]) -> tuple[str, bool] | None:
    """The conflict of a failed resolution, from pip's "The conflict is caused by:" block, as one
    phrase, and whether it is about a pinned distribution. Each requirement on one reads
    ``codex-x 0.1.0 depends on torch==2.12.0, but torch 2.13.0 is installed here``; a conflict
    about nothing pinned is pip's own lines, joined. None when pip failed for another reason."""
    lines = output.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "The conflict is caused by:")
    except StopIteration:
        return None
    block = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        block.append(line.strip())
    on_pins = []
    for line in block:
        if line.startswith("The user requested (constraint)"):
            continue
        if line.startswith("The user requested "):
            req = line.removeprefix("The user requested ")
            phrase = f"the request {req}"
        else:
            _, sep, req = line.partition(" depends on ")
            if not sep:
                continue
            phrase = line
        name = requested_name(req)
        if name in pinned:
            on_pins.append(f"{phrase}, but {name} {pinned[name]} is installed here")
    if on_pins:
        return "; ".join(on_pins), True
    return ("; ".join(block), False) if block else None


_CROSS = "\u00d7"  # how pip's diagnostic errors mark their explanation


def pip_error(output: str) -> str:
    """pip's last error line without its prefix (``ERROR: ...``, or ``error: NAME`` with the line
    marked with a multiplication sign that explains it), else its last line of output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for i in range(len(lines) - 1, -1, -1):
        head, sep, text = lines[i].partition(":")
        if sep and head.lower() == "error":
            more = lines[i + 1] if i + 1 < len(lines) else ""
            explained = f": {more.lstrip(_CROSS).strip()}" if more.startswith(_CROSS) else ""
            return (text.strip() + explained).rstrip(".")
    return lines[-1].rstrip(".") if lines else "pip failed without a message"


def _failed(what: str, output: str, pinned: dict[str, str], changed: bool) -> CodexError:
    outcome = "pip changed the environment before it failed" if changed else "nothing was changed"
    see = "codex -v plugins install ... shows pip's output"
    conflict = conflict_line(output, pinned)
    if conflict is None:
        return CodexError(f"pip could not install {what}: {pip_error(output)}; {outcome}", hint=see)
    text, on_pins = conflict
    if on_pins:
        return CodexError(f"cannot install {what}: {text} ({WHAT_PINS}); {outcome}",
                          hint="choose a version of the plugin that works with the installed ones, or upgrade codex first")
    return CodexError(f"cannot install {what}: {text}; {outcome}", hint=f"choose versions that fit together ({see})")


# -- the record --------------------------------------------------------------------------
def update_record(add: dict[str, dict[str, Any]], remove: set[str], installed: dict[str, Installed]) -> None:
    """Add and remove entries of the install record (atomically, one process at a time); entries
    whose distribution is no longer installed are dropped on the way. With nothing to add and no
    record yet, nothing is written."""
    from codex_core.fsutil import FileLock, atomic_write_json
    from codex_core.plugins import install_record_path, read_install_record

    path = install_record_path()
    if not add and not path.exists():
        return
    lock = FileLock(path.with_suffix(".lock"), what="the plugin record",
                    wait=lambda who: log.warning("waiting for %s, which is updating %s", who, path))
    with lock:
        record = read_install_record()
        record.update(add)
        kept = {name: entry for name, entry in sorted(record.items()) if name in installed and name not in remove}
        atomic_write_json(path, {"format": 1, "installed": kept})


def _record_quietly(add: dict[str, dict[str, Any]], remove: set[str], installed: dict[str, Installed]) -> None:
    from codex_core.errors import WriteError

    try:
        update_record(add, remove, installed)
    except WriteError as exc:
        log.warning("%s; codex plugins list will not mark the plugins this command changed", exc)


# -- the commands ------------------------------------------------------------------------
@click.command("install")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("-U", "--upgrade", is_flag=True,
              help="Upgrade the named plugins to the newest versions that fit (the pinned packages stay).")
@click.option("-e", "--editable", "editables", multiple=True, metavar="PATH",
              help="Install the project folder PATH in editable mode (pip install -e); repeatable.")
@click.option("--index-url", metavar="URL", help="The package index to use instead of pip's configured one.")
@click.option("--find-links", "find_links", multiple=True, metavar="DIR",
              help="Also look for distributions in DIR (a folder or a URL of links); repeatable.")
@click.option("--force-reinstall", is_flag=True,
              help="Reinstall the named plugins even if they are up to date (not their dependencies).")
@click.option("--no-cache-dir", is_flag=True, help="Do not use pip's cache.")
@click.option("--dry-run", is_flag=True, help="Resolve and say what would be installed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def install(names: tuple[str, ...], upgrade: bool, editables: tuple[str, ...], index_url: str | None,
            find_links: tuple[str, ...], force_reinstall: bool, no_cache_dir: bool, dry_run: bool,
            as_json: bool) -> None:
    """Install plugins with pip into codex's own environment.

    NAME is anything pip accepts: a project name with an optional version (codex-word-f1>=0.1),
    a wheel or sdist file, or a project folder. The installed codex packages and torch are
    pinned at their versions: a plugin that needs other versions of them is refused and nothing
    is changed. Your own pip constraints (PIP_CONSTRAINT, pip.conf) still apply. pip's output
    is shown with codex -v.
    """
    if not names and not editables:
        raise CodexError("nothing to install", hint="give a NAME (a project, a wheel, a folder) or -e PATH")
    before = installed_distributions()
    _refuse(_check_inputs(names, editables, find_links, before))
    _check_pip()
    pinned = pins(before)
    what = " ".join([*names, *(f"-e {e}" for e in editables)])
    options = [*(["--index-url", index_url] if index_url else []),
               *(a for link in find_links for a in ("--find-links", link)),
               *(["--no-cache-dir"] if no_cache_dir else []), *(["--dry-run"] if dry_run else [])]
    targets = [*names, *(a for e in editables for a in ("-e", e))]
    steps = [["--upgrade"] if upgrade else []]
    if force_reinstall:  # a second pass for the named ones only: pip's own flag would reinstall torch too
        steps.append(["--force-reinstall", "--no-deps"])

    import json
    import tempfile

    reports: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="codex-plugins-") as tmp:
        constraints = Path(tmp, "constraints.txt")
        constraints.write_text(constraints_text(pinned), encoding="utf-8")
        for i, step in enumerate(steps):
            report_file = Path(tmp, f"report-{i}.json")
            code, output = run_pip(["install", "-c", str(constraints), "--report", str(report_file), *step, *options,
                                    *targets], echo=log.isEnabledFor(logging.INFO))
            if code != 0:
                raise _failed(what, output, pinned, changed=installed_distributions() != before)
            reports.append(json.loads(report_file.read_text(encoding="utf-8")))

    after = before if dry_run else installed_distributions()
    items: dict[str, dict[str, Any]] = {}
    for report in reports:
        for item in report.get("install", []):
            name, version = item["metadata"]["name"], item["metadata"]["version"]
            found = after.get(normalize(name))
            items[normalize(name)] = {"distribution": name, "version": version, "requested": bool(item.get("requested")),
                                      "plugins": None if dry_run else list(found.plugins if found else ())}
    warnings = []
    if not items:
        warnings.append("nothing to install: what was asked for is installed already "
                        "(-U upgrades it, --force-reinstall reinstalls it)")
    elif not dry_run and not any(e["plugins"] for e in items.values()):
        warnings.append(f"{what} brought no codex plugin: nothing it installed declares a 'codex' entry point")
    if not dry_run:
        _record_quietly({n: e for n, e in items.items() if e["plugins"]}, set(), after)
    for warning in warnings:
        log.warning("%s", warning)
    if as_json:
        from codex_core.cli.output import echo_json

        echo_json({"dry_run": dry_run, "installed": list(items.values()), "pinned": pinned, "warnings": warnings})
        return
    for e in items.values():
        if dry_run:
            kind = ""
        else:
            kind = f"plugin {', '.join(e['plugins'])}" if e["plugins"] else \
                "no codex plugin" if e["requested"] else "a dependency"
        click.echo(f"{'would install' if dry_run else 'installed'} {e['distribution']} {e['version']}"
                   + (f" ({kind})" if kind else ""))


@click.command("uninstall")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("-y", "--yes", is_flag=True, help="Uninstall without asking for confirmation.")
def uninstall(names: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugins from codex's environment with pip.

    NAME is a plugin's distribution (codex-word-f1) or plugin name (word-f1), as codex plugins
    list shows them. A name that is not installed, is not a codex plugin, or is one of codex's
    own packages or torch is refused, and then nothing is removed.
    """
    installed = installed_distributions()
    by_plugin = {ep: dist for dist, found in installed.items() for ep in found.plugins}
    chosen: dict[str, Installed] = {}
    errors = []
    for arg in names:
        name = normalize(arg)
        dist = name if name in installed else by_plugin.get(arg, by_plugin.get(name))
        if name in PINNED or dist in PINNED:
            part = "torch, which codex needs," if "torch" in (name, dist) else f"{dist or name}, part of codex,"
            errors.append(CodexError(f"refusing to uninstall {arg}: {part} is not a plugin",
                                     hint="use pip itself to remove codex"))
        elif dist is None:
            known = [*by_plugin, *(d for d, found in installed.items() if found.plugins)]
            guess = did_you_mean(arg, [k for k in known if k not in PINNED and by_plugin.get(k) not in PINNED])
            errors.append(CodexError(f"{arg} is not installed", hint=f"did you mean {guess!r}?" if guess else
                                     "codex plugins list shows the installed plugins"))
        elif not installed[dist].plugins:
            errors.append(CodexError(f"refusing to uninstall {arg}: {installed[dist].name} is not a codex plugin "
                                     "(it declares no 'codex' entry point)", hint="use pip itself for other packages"))
        else:
            chosen[dist] = installed[dist]
    _refuse(errors)
    _check_pip()
    listed = ", ".join(f"{d.name} {d.version}" for d in chosen.values())
    if not yes:
        click.confirm(f"Uninstall {listed}?", abort=True, err=True)
    code, output = run_pip(["uninstall", "-y", *(d.name for d in chosen.values())],
                           echo=log.isEnabledFor(logging.INFO))
    after = installed_distributions()
    if code != 0:
        left = ", ".join(d.name for n, d in chosen.items() if n in after)
        raise CodexError(f"pip could not uninstall {left or listed}: {pip_error(output)}",
                         hint="codex -v plugins uninstall ... shows pip's output")
    _record_quietly({}, set(chosen), after)
    for found in chosen.values():
        click.echo(f"uninstalled {found.name} {found.version}")
