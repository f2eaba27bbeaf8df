"""The ``http``/``https`` connector: a URL downloaded once into the cache, resumable and checked.

The download goes to ``<cache>/downloads/<sha256(url)[:16]>-<basename>`` through a
``.part`` file: a failed attempt is retried (exponential backoff) from the byte the
``.part`` file reached, with an HTTP ``Range`` request. A server that ignores ``Range``
(200) restarts the file; a 206 must start at the requested byte. The finished file is
checked against the expected sha256 and moved into place atomically; a file already
cached (and matching) is reused without touching the network. Standard library only.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import posixpath
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from codex_core.errors import CodexError
from codex_core.fsutil import atomic_write_json, fsync_dir, sha256_file
from codex_core.protocols import Located
from codex_data.http_params import HTTPParams

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.context import BuildContext

log = logging.getLogger("codex.data")

_CHUNK = 1 << 16
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class _Retry(Exception):
    """An attempt failed in a way another attempt may fix."""


class _Restart(_Retry):
    """An attempt failed in a way that makes the saved bytes useless: retry from byte 0."""


def cache_path(url: str, cache_dir: str | Path) -> Path:
    """Where ``url`` is cached: ``<cache_dir>/downloads/<sha256(url)[:16]>-<basename>``."""
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    name = posixpath.basename(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    name = _UNSAFE.sub("_", name).strip("._")[:100] or "download"
    return Path(cache_dir) / "downloads" / f"{key}-{name}"


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _size_error(url: str, size: int, limit: int) -> CodexError:
    return CodexError(
        f"download {url} is {size} bytes or more, over max_bytes={limit}",
        hint="raise max_bytes in the connector params if this file is expected",
    )


class HTTPConnector:
    """The ``http``/``https`` connector (implements ``codex_core.protocols.Connector``)."""

    def __init__(self, params: HTTPParams | None = None, context: BuildContext | None = None) -> None:
        self.params = params or HTTPParams()
        if context is not None:
            self.cache_dir = Path(context.cache_dir)
        else:
            from codex_core.runs import cache_root

            self.cache_dir = cache_root()

    def locate(self, source: str) -> list[Located]:
        """The downloaded file of the URL ``source`` (fetched only when not cached)."""
        scheme = urllib.parse.urlsplit(source).scheme.lower()
        if scheme not in ("http", "https"):
            raise CodexError(
                f"data source {source!r} is not an http(s) URL",
                hint="give a URL such as 'https://example.org/data.txt', or use the 'file' connector",
            )
        path = cache_path(source, self.cache_dir)
        digest = self._cached(path)
        if digest is None:
            digest = self._download(source, path)
        if self.params.extract:
            return _unpacked(path, digest, source)
        return [Located(path=path, sha256=digest, source=source)]

    # -- cache ----------------------------------------------------------------------
    def _cached(self, path: Path) -> str | None:
        """The sha256 of a usable cached file, or None (a stale one is removed)."""
        if not path.is_file():
            return None
        digest = sha256_file(path)
        expected = self.params.sha256 or self._recorded(path)
        if expected is not None and digest != expected:
            log.warning("cached %s has sha256 %s, expected %s; downloading it again", path, digest, expected)
            path.unlink()
            return None
        if not _sidecar(path).is_file():
            self._record(path, digest)
        return digest

    @staticmethod
    def _recorded(path: Path) -> str | None:
        try:
            value = json.loads(_sidecar(path).read_text()).get("sha256")
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    @staticmethod
    def _record(path: Path, digest: str, url: str | None = None) -> None:
        atomic_write_json(_sidecar(path), {"url": url, "sha256": digest, "size": path.stat().st_size})

    # -- download -------------------------------------------------------------------
    def _download(self, url: str, path: Path) -> str:
        part = _part(path)
        part.parent.mkdir(parents=True, exist_ok=True)
        attempts = self.params.retries + 1
        for attempt in range(attempts):
            try:
                self._attempt(url, part)
                break
            except _Retry as exc:
                if isinstance(exc, _Restart):
                    part.unlink(missing_ok=True)
                if attempt + 1 == attempts:
                    raise CodexError(
                        f"download {url} failed after {attempts} attempt(s): {exc}",
                        hint="check the URL and the network; the partial download is kept and resumed next time",
                    ) from None
                delay = self.params.backoff * 2**attempt
                log.warning(
                    "download %s: %s; retry %d/%d in %.1fs", url, exc, attempt + 1, self.params.retries, delay
                )
                time.sleep(delay)
            except CodexError:
                part.unlink(missing_ok=True)  # not worth resuming: the next try starts afresh
                raise
        return self._finish(url, part, path)

    def _attempt(self, url: str, part: Path) -> None:
        """One request, appended to ``part`` from its current size; raises _Retry or CodexError."""
        offset = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": "codex-data", "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=self.params.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and offset:  # the saved bytes do not fit the file any more
                raise _Restart("HTTP 416 (range not satisfiable) for a partial download") from None
            if exc.code in _RETRY_STATUS:
                raise _Retry(f"HTTP {exc.code} {exc.reason}") from None
            raise CodexError(
                f"download {url} failed: HTTP {exc.code} {exc.reason}",
                hint="check the URL (and any access rights it needs)",
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        with response:
            start, total = self._span(url, response, offset)
            with open(part, "r+b" if start else "wb") as handle:
                handle.seek(start)
                handle.truncate()
                self._copy(url, response, handle, start, total)
                handle.flush()
                os.fsync(handle.fileno())

    def _span(self, url: str, response: http.client.HTTPResponse, offset: int) -> tuple[int, int | None]:
        """``(first byte, total size or None)`` of the response body, checked."""
        status = response.status
        length = response.headers.get("Content-Length")
        if status == 206:
            match = _CONTENT_RANGE.fullmatch((response.headers.get("Content-Range") or "").strip())
            if match is None or int(match.group(1)) != offset:
                raise _Restart(
                    f"server answered range {offset}- with Content-Range "
                    f"{response.headers.get('Content-Range')!r}"
                )
            total = None if match.group(3) == "*" else int(match.group(3))
            start = offset
        elif status == 200:
            if offset:
                log.info("download %s: server ignored the range request; starting again", url)
            start = 0
            total = int(length) if length and length.isdigit() else None
        else:
            raise _Retry(f"unexpected HTTP {status}")
        limit = self.params.max_bytes
        if limit is not None and total is not None and total > limit:
            raise _size_error(url, total, limit)
        return start, total

    def _copy(self, url: str, response: BinaryIO, handle: BinaryIO, start: int, total: int | None) -> None:
        size = start
        limit = self.params.max_bytes
        try:
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if limit is not None and size > limit:
                    raise _size_error(url, size, limit)
                handle.write(chunk)
        except (OSError, http.client.HTTPException) as exc:
            raise _Retry(f"connection lost after {size} bytes ({type(exc).__name__}: {exc})") from None
        if total is not None and size != total:
            raise _Retry(f"got {size} of {total} bytes")

    def _finish(self, url: str, part: Path, path: Path) -> str:
        digest = sha256_file(part)
        expected = self.params.sha256
        if expected is not None and digest != expected:
            part.unlink()
            raise CodexError(
                f"download {url} has sha256 {digest}, expected {expected}; the file was removed",
                hint="the file changed on the server or was corrupted on the way; check the URL "
                "and the expected sha256",
            )
        os.replace(part, path)
        fsync_dir(path.parent)
        self._record(path, digest, url)
        if expected is None:
            log.info("downloaded %s (sha256 %s); pin it with params sha256 to check it", url, digest)
        return digest


def _unpacked(archive: Path, digest: str, source: str) -> list[Located]:
    """The files of a downloaded archive, unpacked once (safely) next to it, keyed by the
    archive's sha256 so a changed download is unpacked afresh."""
    from codex_data.archives import extract

    target = archive.parent / f"{archive.name}.{digest[:12]}.d"
    if not target.is_dir():
        extract(archive, target)
    files = sorted(p for p in target.rglob("*") if p.is_file() and not p.is_symlink())
    return [Located(path=p, sha256=sha256_file(p), source=f"{source}#{p.relative_to(target).as_posix()}")
            for p in files]
