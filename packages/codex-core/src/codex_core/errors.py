"""Errors a user can fix. The CLI prints them as one line and exits with status 2."""

from __future__ import annotations

import errno as _errno
import os
import re
from collections.abc import Iterable
from pathlib import Path


class CodexError(Exception):
    """An error the user can fix: bad input, a missing file, an unknown name.

    The message says what is wrong and where; ``hint`` says how to fix it.
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class ConfigError(CodexError):
    """A config file or override is invalid."""


class ComponentError(CodexError):
    """A component is unknown, clashes with another, or cannot be built."""


class PluginError(CodexError):
    """A plugin failed to load (raised only with CODEX_STRICT_PLUGINS=1)."""


class RunDirError(CodexError):
    """A run directory is missing, locked, or not a run directory."""


class WriteError(CodexError):
    """A file or folder could not be written because of where it is: the disk is full, a
    file size limit is reached, the filesystem is read-only, or this user may not write there.

    ``path`` is what could not be written, ``errno`` the OS error number. Make one with
    :func:`write_error`, which knows the reasons and how to fix each.
    """

    def __init__(self, message: str, *, path: str | Path, errno: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = Path(path)
        self.errno = errno


_WHERE = "choose another location: run.runs_dir or CODEX_RUNS_DIR for runs, CODEX_HOME for the caches"
WRITE_ERRNOS: dict[int, tuple[str, str]] = {
    _errno.ENOSPC: ("no space left on device", "free space on that filesystem (codex runs rm, codex cache clear) or "
                    + _WHERE),
    _errno.EDQUOT: ("disk quota exceeded", "free space within your quota (codex runs rm, codex cache clear) or "
                    + _WHERE),
    _errno.EFBIG: ("file size limit exceeded", "raise the file size limit (ulimit -f{limit}) or " + _WHERE),
    _errno.EROFS: ("read-only file system", "remount it read-write or " + _WHERE),
    _errno.EACCES: ("permission denied", "give this user{user} access to it or " + _WHERE),
    _errno.EPERM: ("operation not permitted", "give this user{user} access to it or " + _WHERE),
}
"""The OS errors that say where a file is written is the problem (not what is written):
errno -> (reason, how to fix it)."""

_OS_ERROR = re.compile(r"\(os error (\d+)\)")  # how Rust's std::io::Error (safetensors, tokenizers) ends


def os_errno(exc: BaseException) -> tuple[int, str | None] | None:
    """The OS error behind ``exc``: ``(errno, filename)`` from the first :class:`OSError` in its
    chain (``__cause__`` / ``__context__``: torch.save writing through a Python file), or an
    errno that a library written in Rust put in its message ("... (os error 28)"); else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return current.errno, current.filename if isinstance(current.filename, str) else None
        match = _OS_ERROR.search(str(current))
        if match:
            return int(match.group(1)), None
        current = current.__cause__ or current.__context__
    return None


def write_error(exc: BaseException, path: str | Path | None = None, *, verb: str = "write") -> WriteError | None:
    """``exc`` as a :class:`WriteError` (``cannot write PATH: no space left on device; free space
    ...``) when the OS error behind it is one of :data:`WRITE_ERRNOS`, else None (a bug or another
    failure: let it propagate as it is). ``path`` is what was being written; without it the
    error's own filename is named."""
    found = os_errno(exc)
    if found is None or found[0] not in WRITE_ERRNOS:
        return None
    code, filename = found
    where = path if path is not None else filename
    if where is None:
        return None
    reason, hint = WRITE_ERRNOS[code]
    if code == _errno.EFBIG:
        hint = hint.format(limit=_file_size_limit())
    if code in (_errno.EACCES, _errno.EPERM):
        hint = hint.format(user=f" (uid {os.getuid()})" if hasattr(os, "getuid") else "")
    return WriteError(f"cannot {verb} {where}: {reason}", path=where, errno=code, hint=hint)


def _file_size_limit() -> str:
    """`` unlimited; it is N bytes now`` where this process has a finite file size limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return ""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return "" if soft == resource.RLIM_INFINITY else f" unlimited; it is {soft} bytes now"


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``word``, or None when nothing is close."""
    import difflib

    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None
