"""Safe extraction of ``.zip`` and ``.tar.gz``/``.tgz`` archives.

Every member is checked before anything is written: no absolute paths, no ``..``
components, no device files or FIFOs, no links that point outside the target, and no
bombs (a limit on the total uncompressed size and on the ratio of that to the archive's
size). Regular files and directories are written first, links last (so nothing is ever
written through a link), into a temporary folder next to the target that is renamed into
place only when all of it succeeded.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import IO

from codex_core.errors import CodexError
from codex_core.fsutil import fsync_dir

_CHUNK = 1 << 20
RATIO_FLOOR = 1 << 20
"""Sizes (in bytes) up to which the compression ratio is not checked: tiny archives of
repetitive text legitimately compress far better than large ones."""


@dataclass(frozen=True)
class _Member:
    """One archive entry, normalised: ``kind`` is ``file``, ``dir``, ``symlink`` or ``hardlink``."""

    name: str
    parts: tuple[str, ...]
    kind: str
    size: int = 0
    link: str = ""
    executable: bool = False
    compressed: int | None = None  # zip only: the member's compressed size


class _Budget:
    """Counts the bytes written against the size and ratio limits."""

    def __init__(self, archive: Path, max_total_bytes: int, max_ratio: float) -> None:
        self.archive = archive
        self.max_total = max_total_bytes
        self.max_ratio = max_ratio
        self.limit_ratio = max(archive.stat().st_size, 1) * max_ratio
        self.total = 0

    def check(self, name: str, total: int) -> None:
        if total > self.max_total:
            raise _bad(
                self.archive, name, f"unpacks to more than max_total_bytes={self.max_total} (a zip bomb?)"
            )
        if total > RATIO_FLOOR and total > self.limit_ratio:
            raise _bad(
                self.archive,
                name,
                f"unpacks to more than max_ratio={self.max_ratio:g} times the archive's size (a zip bomb?)",
            )

    def add(self, name: str, count: int) -> None:
        self.total += count
        self.check(name, self.total)


def _bad(archive: Path, name: str, why: str) -> CodexError:
    return CodexError(
        f"archive {archive}: member {name!r} {why}",
        hint="the archive is unsafe to extract; check where it came from",
    )


def _parts(archive: Path, name: str) -> tuple[str, ...]:
    """The path components of a member name, refusing absolute paths and ``..``."""
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        raise _bad(archive, name, "has an absolute path")
    parts = tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))
    if ".." in parts:
        raise _bad(archive, name, "has a '..' component (points outside the target)")
    if not parts:
        raise _bad(archive, name, "has an empty path")
    return parts


def _inside(archive: Path, member: _Member) -> str:
    """The link target of ``member`` as a target-relative path; refuses one that escapes."""
    if member.kind == "hardlink":
        return "/".join(_parts(archive, member.link))
    if member.link.startswith(("/", "\\")) or PureWindowsPath(member.link).drive:
        raise _bad(archive, member.name, f"is a symlink to an absolute path {member.link!r}")
    joined = posixpath.normpath(posixpath.join("/".join(member.parts[:-1]), member.link))
    if joined == ".." or joined.startswith("../"):
        raise _bad(archive, member.name, f"is a link to {member.link!r}, outside the target")
    return joined


# -- readers --------------------------------------------------------------------------
def _zip_members(archive: Path, zf: zipfile.ZipFile) -> list[tuple[_Member, zipfile.ZipInfo]]:
    found = []
    for info in zf.infolist():
        mode = info.external_attr >> 16
        parts = _parts(archive, info.filename)
        if stat.S_ISLNK(mode):
            link = zf.read(info).decode("utf-8", "surrogateescape")
            member = _Member(info.filename, parts, "symlink", link=link)
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no Unix mode recorded
            raise _bad(archive, info.filename, "is a device file, FIFO or socket")
        elif info.is_dir():
            member = _Member(info.filename, parts, "dir")
        else:
            member = _Member(
                info.filename,
                parts,
                "file",
                size=info.file_size,
                executable=bool(mode & 0o111),
                compressed=info.compress_size,
            )
        found.append((member, info))
    return found


def _tar_member(archive: Path, info: tarfile.TarInfo) -> _Member:
    parts = _parts(archive, info.name)
    if info.isreg():
        return _Member(info.name, parts, "file", size=info.size, executable=bool(info.mode & 0o111))
    if info.isdir():
        return _Member(info.name, parts, "dir")
    if info.issym():
        return _Member(info.name, parts, "symlink", link=info.linkname)
    if info.islnk():
        return _Member(info.name, parts, "hardlink", link=info.linkname)
    raise _bad(archive, info.name, "is a device file, FIFO or other special file")


def _format(archive: Path) -> str:
    name = archive.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar.gz", ".tgz")):
        return "tar"
    raise CodexError(f"archive {archive}: unknown archive format", hint="give a .zip, .tar.gz or .tgz file")


# -- writing ---------------------------------------------------------------------------
def _write_file(root: Path, member: _Member, source: IO[bytes], budget: _Budget) -> None:
    path = root.joinpath(*member.parts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise _bad(budget.archive, member.name, "is a file where the archive has a folder")
        path.unlink(missing_ok=True)  # a repeated name: the last one wins, as with tar
        with open(path, "xb") as out:
            while chunk := source.read(_CHUNK):
                budget.add(member.name, len(chunk))
                out.write(chunk)
        path.chmod(0o755 if member.executable else 0o644)
    except OSError as exc:
        raise _bad(budget.archive, member.name, f"could not be written ({exc.strerror or exc})") from None


def _make_link(root: Path, member: _Member, archive: Path) -> None:
    path = root.joinpath(*member.parts)
    target = _inside(archive, member)
    if os.path.lexists(path):
        raise _bad(archive, member.name, "is a link where the archive already has a file or folder")
    if not _resolves_inside(root, path.parent):  # through a symlink made just before
        raise _bad(archive, member.name, "is inside a link that resolves outside the target")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if member.kind == "hardlink":
            source = root / target
            if not source.is_file() or source.is_symlink():
                raise _bad(
                    archive, member.name, f"is a hard link to {member.link!r}, not a file in the archive"
                )
            os.link(source, path)
        else:
            os.symlink(member.link, path)
    except OSError as exc:
        raise _bad(archive, member.name, f"could not be linked ({exc.strerror or exc})") from None


def _resolves_inside(root: Path, path: Path) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def _check_links(root: Path, links: list[_Member], archive: Path) -> None:
    """Links resolved through other links must still stay inside ``root``."""
    for member in links:
        if not _resolves_inside(root, root.joinpath(*member.parts)):
            raise _bad(
                archive, member.name, f"is a link to {member.link!r}, which resolves outside the target"
            )


def _extract_into(archive: Path, root: Path, budget: _Budget) -> None:
    links: list[_Member] = []

    def handle(member: _Member, opener: Callable[[], IO[bytes] | None]) -> None:
        if member.kind == "dir":
            root.joinpath(*member.parts).mkdir(parents=True, exist_ok=True)
        elif member.kind == "file":
            budget.check(member.name, budget.total + member.size)
            if (
                member.compressed is not None
                and member.size > RATIO_FLOOR
                and (member.size > max(member.compressed, 1) * budget.max_ratio)
            ):
                raise _bad(
                    archive,
                    member.name,
                    f"unpacks to more than max_ratio={budget.max_ratio:g} "
                    "times its compressed size (a zip bomb?)",
                )
            stream = opener()
            if stream is None:  # pragma: no cover - tarfile gives None only for non-files
                raise _bad(archive, member.name, "has no data")
            with stream:
                _write_file(root, member, stream, budget)
        else:
            _inside(archive, member)  # refuse an escaping link before writing more
            links.append(member)

    if _format(archive) == "zip":
        with zipfile.ZipFile(archive) as zf:
            members = _zip_members(archive, zf)  # the central directory: all checked first
            total = 0
            for member, _ in members:
                total += member.size
                budget.check(member.name, total)
            for member, zinfo in members:
                handle(member, lambda i=zinfo: zf.open(i))  # type: ignore[misc]
    else:
        with tarfile.open(archive, "r:gz") as tf:
            for tinfo in tf:
                handle(_tar_member(archive, tinfo), lambda i=tinfo: tf.extractfile(i))  # type: ignore[misc]
    # hard links first, while every folder is still a real one; then symlinks
    for member in sorted(links, key=lambda m: m.kind != "hardlink"):
        _make_link(root, member, archive)
    _check_links(root, links, archive)


def extract(
    archive: str | Path, target: str | Path, *, max_total_bytes: int = 10 << 30, max_ratio: float = 200.0
) -> list[Path]:
    """Extract ``archive`` (``.zip``, ``.tar.gz``, ``.tgz``) safely into the new folder ``target``.

    Returns the extracted files and links (not folders), sorted. Any unsafe member (an
    absolute path, a ``..`` component, a link resolving outside ``target``, a device file)
    or a bomb (more than ``max_total_bytes`` unpacked, or more than ``max_ratio`` times the
    archive's size once past :data:`RATIO_FLOOR` bytes) is a ``CodexError`` naming the
    member, and nothing is left behind. ``target`` must not exist yet; it appears whole.
    """
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise CodexError(f"archive {archive} does not exist", hint="check the path")
    if os.path.lexists(target):
        raise CodexError(
            f"cannot extract {archive}: {target} already exists",
            hint="remove it, or extract into a new folder",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    budget = _Budget(archive, max_total_bytes, max_ratio)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        _extract_into(archive, tmp, budget)
        tmp.chmod(0o755)
        os.rename(tmp, target)
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, zlib.error, EOFError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CodexError(
            f"archive {archive} could not be extracted: {type(exc).__name__}: {exc}",
            hint="the file may be damaged or incomplete; download it again",
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(target.parent)
    return sorted(p for p in target.rglob("*") if p.is_symlink() or not p.is_dir())
