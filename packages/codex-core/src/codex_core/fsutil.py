"""Atomic file and directory writes, file hashes, and an inter-process lock.

* :func:`atomic_write` / :func:`atomic_write_json`: one file, replaced whole;
* :func:`atomic_dir`: a directory written in a hidden temporary sibling and renamed into
  place, so a reader sees it complete or not at all;
* :func:`append_whole`: a line appended whole, or not at all;
* :func:`writing`: a write that fails because of where it goes (a full disk, a file size
  limit, a read-only filesystem, no permission) becomes one :class:`~codex_core.errors.WriteError`
  naming the file; every writer here reports its failures so;
* :func:`sha256_file`, :func:`fsync_tree`, :func:`fsync_dir`: hashing and durability;
* :class:`FileLock`: one process at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from codex_core.errors import RunDirError, WriteError, os_errno, write_error

log = logging.getLogger("codex")


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Run the block that writes ``path``; an error whose OS error says the location is the
    problem (no space left, the file size limit, a read-only filesystem, no permission: see
    :data:`codex_core.errors.WRITE_ERRNOS`) is raised as a :class:`WriteError` naming ``path``
    (or the folder above it that could not be made), with how to fix it. Anything else (a bug,
    a missing folder) propagates as it is."""
    try:
        yield
    except WriteError:
        raise
    except Exception as exc:
        found = os_errno(exc)
        named = Path(found[1]) if found is not None and found[1] else None
        error = write_error(exc, named if named is not None and Path(path).is_relative_to(named) else path)
        if error is None:
            raise
        raise error from exc


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, fsync,
    ``os.replace``, then fsync of the folder. Readers see the old file or the new one.
    A failure because of the location is a :class:`WriteError` naming ``path`` (see
    :func:`writing`); the temp file is removed and the old file is left as it was."""
    path = Path(path)
    with writing(path):
        return _atomic_write(path, data)


def _atomic_write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = path.stat().st_mode & 0o777  # keep the mode of the file being replaced
    except FileNotFoundError:
        mode = 0o666 & ~_umask()  # what open() would give a new file
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return path


_UMASK: int | None = None


def _umask() -> int:
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def append_whole(path: str | Path, data: bytes) -> None:
    """Append ``data`` (a line) to ``path``, created when missing, whole or not at all: when
    a write fails midway (a full disk, the file size limit) the file is cut back to the length
    it had, so no torn line stays for the next line to be glued to; the failure is then raised
    as :func:`writing` does. One writer at a time (the run's lock)."""
    path = Path(path)
    with writing(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            end = os.fstat(fd).st_size
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(fd, view):]
            except OSError:
                try:
                    os.ftruncate(fd, end)
                except OSError as exc:
                    log.warning("%s may end in a partial line (cutting it back failed: %s)", path, exc)
                raise
        finally:
            os.close(fd)


def fsync_dir(directory: str | Path) -> None:
    """fsync a directory so a rename in it survives a crash (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (and Windows) cannot fsync a directory; the rename still happened
    finally:
        os.close(fd)


_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """The sha256 hex digest of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_tree(root: str | Path) -> None:
    """fsync every file and every directory under ``root``, then ``root`` itself, so what
    was written there survives a crash once ``root`` is renamed. Links are not followed."""
    for folder, dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        for name in dirs:
            if not os.path.islink(os.path.join(folder, name)):
                fsync_dir(os.path.join(folder, name))
    fsync_dir(root)


_TMP_MARK = ".tmp-"  # atomic_dir's temporaries are .<name>.tmp-<pid>-<hex>
_OLD_MARK = ".old-"


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Write the directory ``path`` atomically: yields a fresh, empty temporary directory next
    to it (same parent, hidden name ``.<name>.tmp-<pid>-<hex>``) to fill.

    On a normal exit the tree is fsynced, renamed to ``path`` and the parent fsynced. On an
    exception the temporary directory is removed and the exception re-raised; ``path`` is as
    it was. An existing empty directory at ``path`` is taken over. Anything else at ``path``
    is a :class:`FileExistsError` (raised before the block runs, and again at the end should
    something have appeared meanwhile) unless ``replace``: then the old one is renamed aside,
    the new one renamed in, and the old one deleted, so a reader sees the old directory or the
    new one, complete. Example::

        with atomic_dir(run / "checkpoints" / "step-00000100") as tmp:
            (tmp / "model.safetensors").write_bytes(data)
            atomic_write_json(tmp / "checkpoint.json", marker)  # the marker last
    """
    path = Path(path)
    if not replace:
        _check_free(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _fresh_sibling(path, _TMP_MARK)
    try:
        yield tmp
        fsync_tree(tmp)
        if replace and os.path.lexists(path) and not _is_empty_dir(path):
            _swap_in(tmp, path)
        else:
            _check_free(path)
            if os.path.isdir(path) and not os.path.islink(path):
                path.rmdir()  # empty (checked): os.replace onto it is not portable
            os.replace(tmp, path)
    except BaseException as exc:
        error = _write_error_in(exc, tmp, path)
        shutil.rmtree(tmp, ignore_errors=True)
        if error is None:
            raise
        raise error from exc
    fsync_dir(path.parent)


def _write_error_in(exc: BaseException, tmp: Path, final: Path) -> WriteError | None:
    """A write failure inside ``atomic_dir``'s temporary ``tmp`` as a :class:`WriteError`
    naming the file under its final name (``final / relative path``), or ``final`` itself
    when the error names no file (safetensors' errors do not, and it removes what it wrote).
    None when ``exc`` is not such a failure."""
    if not isinstance(exc, Exception):
        return None
    if isinstance(exc, WriteError):
        named: str | Path | None = exc.path
    else:
        found = os_errno(exc)
        if found is None:
            return None
        named = found[1]
    where = final
    if named is not None:
        try:
            where = final / Path(named).relative_to(tmp)
        except ValueError:
            if isinstance(exc, WriteError):
                return exc  # about a file elsewhere: as it is
            where = Path(named)
    return write_error(exc, where)


def remove_temporaries(parent: str | Path, name: str | None = None) -> list[Path]:
    """Remove what :func:`atomic_dir` writers killed midway left in ``parent`` (for ``name``
    only, or for every name); returns what was removed. Call it only while no other process
    writes there (under the lock that guards ``parent``)."""
    removed = []
    for mark in (_TMP_MARK, _OLD_MARK):
        for path in sorted(Path(parent).glob(f".{name or '*'}{mark}*")):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def _check_free(path: Path) -> None:
    if os.path.lexists(path) and not _is_empty_dir(path):
        raise FileExistsError(f"{path} already exists")


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def _fresh_sibling(path: Path, mark: str, *, create: bool = True) -> Path:
    """A new hidden name next to ``path`` (the directory made when ``create``)."""
    while True:
        candidate = path.with_name(f".{path.name}{mark}{os.getpid()}-{secrets.token_hex(4)}")
        if not create:
            if not os.path.lexists(candidate):
                return candidate
            continue
        try:
            candidate.mkdir()  # the usual mode (umask), not mkdtemp's 0o700
        except FileExistsError:
            continue
        return candidate


def _swap_in(new: Path, target: Path) -> None:
    """Rename ``target`` aside, ``new`` to ``target``, then delete the old one."""
    old = _fresh_sibling(target, _OLD_MARK, create=False)
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)  # put the old one back
        raise
    fsync_dir(target.parent)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


class FileLock:
    """An exclusive lock on ``path`` held by this process (``fcntl.flock``).

    The OS releases it when the process dies, so a crashed run never leaves a stale lock.
    The file records the holder (pid, host, time) for the error message of a second process.
    """

    def __init__(self, path: str | Path, what: str = "run directory",
                 wait: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.what = what
        self.wait = wait
        self._fd: int | None = None

    def holder(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            return {}

    def acquire(self) -> FileLock:
        """Take the lock. Held by another process: a :class:`RunDirError` naming it, or, when
        the lock was made with ``wait``, ``wait(holder)`` is called (to say so) and the lock
        awaited."""
        import fcntl

        with writing(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held = self.holder()
            who = f"pid {held.get('pid', '?')} on {held.get('host', '?')} (since {held.get('since', '?')})"
            if self.wait is None:
                os.close(fd)
                raise RunDirError(f"{self.what} {self.path.parent} is in use by {who}",
                                  hint="wait for that process to finish, or use another run name") from None
            self.wait(who)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:  # interrupted while waiting
                os.close(fd)
                raise
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        try:
            with writing(self.path):
                os.ftruncate(fd, 0)
                os.write(fd, json.dumps(info).encode())
                os.fsync(fd)
        except BaseException:
            os.close(fd)  # and so the lock is released
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def is_locked(self) -> bool:
        """True when another process holds the lock."""
        import fcntl

        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
