"""Build the Codex distributions, and install them from the built files.

    python tools/dist.py build DIR [--wheel-only] [PROJECT_DIR ...]
    python tools/dist.py install DIR [--python PY] [--no-deps-refresh] REQ ...

``build`` runs ``python -m build`` (an sdist, then a wheel built from that sdist) for each of
the five packages, or for the project folders given, into DIR. ``install`` installs REQs
(``codex-core[test]``, ``codex-models[eval]``, ...) from the wheel *files* in DIR, never from
an index: each ``codex-*`` requirement is turned into the path of its wheel in DIR, so
pip cannot choose the unrelated ``codex-core`` of the public index whatever its version.
The other dependencies come from the configured index as usual (under ``PIP_CONSTRAINT``).
Then the same wheels are reinstalled without dependencies, so that a rebuilt wheel of an
unchanged version replaces the installed one.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["codex-core", "codex-tokenizers", "codex-data", "codex-models", "codex-telemetry"]
_REQ = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<extras>\[[^\]]*\])?$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def build(out: Path, projects: list[Path], *, wheel_only: bool = False) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    for project in projects:
        argv = [sys.executable, "-m", "build", "--outdir", str(out), str(project)]
        if wheel_only:
            argv.insert(3, "--wheel")
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"error: building {project} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return sorted(out.iterdir())


def wheels(folder: Path) -> dict[str, Path]:
    """The newest wheel per normalised project name in ``folder``."""
    from packaging.utils import parse_wheel_filename

    found: dict[str, tuple[object, Path]] = {}
    for path in folder.glob("*.whl"):
        name, version, _build, _tags = parse_wheel_filename(path.name)
        if name not in found or version > found[name][0]:  # type: ignore[operator]
            found[name] = (version, path)
    return {name: path for name, (_v, path) in found.items()}


def install(folder: Path, requirements: list[str], python: str) -> None:
    available = wheels(folder)
    argv, ours = [], []
    for req in requirements:
        match = _REQ.match(req)
        name = normalize(match["name"]) if match else None
        if name is not None and name.startswith("codex-"):
            if name not in available:
                sys.exit(f"error: no wheel of {name} in {folder}; build it first (python tools/dist.py build {folder})")
            argv.append(f"{available[name]}{match['extras'] or ''}")
            ours.append(str(available[name]))
        else:
            argv.append(req)
    # Siblings' codex-* dependencies resolve to these files too: name every codex wheel in DIR
    # as a constraint-free candidate through --find-links, and forbid nothing else.
    pip = [python, "-m", "pip", "install", "--find-links", str(folder)]
    subprocess.run([*pip, *argv], check=True)
    subprocess.run([*pip, "--force-reinstall", "--no-deps", *ours], check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build sdists and wheels into DIR")
    b.add_argument("dir", type=Path)
    b.add_argument("projects", nargs="*", type=Path, help="project folders (default: the five packages)")
    b.add_argument("--wheel-only", action="store_true", help="wheels only, built from the source tree")
    i = sub.add_parser("install", help="install requirements from the wheels in DIR")
    i.add_argument("dir", type=Path)
    i.add_argument("requirements", nargs="+")
    i.add_argument("--python", default=sys.executable, help="the environment's python (default: this one)")
    args = parser.parse_args(argv)
    if args.command == "build":
        projects = args.projects or [ROOT / "packages" / name for name in PACKAGES]
        for path in build(args.dir, projects, wheel_only=args.wheel_only):
            print(path.name)
    else:
        install(args.dir, args.requirements, args.python)


if __name__ == "__main__":
    main()
