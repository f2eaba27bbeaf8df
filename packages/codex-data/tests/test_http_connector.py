"""The ``http``/``https`` connector against a loopback server started in the test."""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from codex_core import hookimpl
from codex_core.context import BuildContext
from codex_core.errors import CodexError
from codex_core.protocols import Connector
from codex_core.registry import Registry
from codex_data.http import cache_path

BODY = random.Random(0).randbytes(100_000)
SHA = hashlib.sha256(BODY).hexdigest()


@dataclass
class Behaviour:
    """What the loopback server does; tests change it, the handler reads it."""

    files: dict[str, bytes] = field(default_factory=lambda: {"/data.bin": BODY})
    truncate: list[int] = field(default_factory=list)  # the next responses stop after k body bytes
    status: int | None = None  # answer every request with this status
    ignore_range: bool = False
    corrupt: bool = False
    no_length: bool = False
    bad_content_range: int = 0  # the next responses to a Range request claim to start at byte 0
    ranges: list[str | None] = field(default_factory=list)  # the Range header of each request


class Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        b: Behaviour = self.server.behaviour
        b.ranges.append(self.headers.get("Range"))
        body = b.files.get(self.path)
        if b.status is not None or body is None:
            self.send_error(b.status or 404)
            return
        if b.corrupt:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        start = 0
        wanted = self.headers.get("Range")
        if wanted and not b.ignore_range:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            self.send_response(206)
            claimed = start
            if b.bad_content_range:
                b.bad_content_range -= 1
                claimed = 0
            self.send_header("Content-Range", f"bytes {claimed}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        if not b.no_length:
            self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        rest = body[start:]
        if b.truncate:
            rest = rest[: b.truncate.pop(0)]  # Content-Length promised more: the client sees a cut
        self.wfile.write(rest)


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.behaviour = Behaviour()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def behaviour(server: ThreadingHTTPServer) -> Behaviour:
    return server.behaviour  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_port}/data.bin"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class HTTPPlugin:
    """The registrations codex_data.plugin makes for the http connectors."""

    @hookimpl
    def codex_register_connectors(self, register: Any) -> None:
        for scheme in ("http", "https"):
            register(scheme, "codex_data.http:HTTPConnector", config="codex_data.http_params:HTTPParams")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def make(register_codex_plugin: Any, codex_registry: Registry, cache: Path) -> Any:
    register_codex_plugin(HTTPPlugin(), name="http-test")

    def build(**params: Any) -> Connector:
        params = {"backoff": 0, "timeout": 5, **params}
        context = BuildContext(registry=codex_registry, cache_dir=cache)
        return codex_registry.build("connector", "http", params, context=context)  # type: ignore[no-any-return]

    return build


def test_http_connector_implements_the_connector_protocol(make: Any) -> None:
    assert isinstance(make(), Connector)


def test_a_url_is_downloaded_into_the_cache_with_its_sha256(make: Any, url: str, cache: Path) -> None:
    [located] = make().locate(url)

    assert (located.path, located.sha256, located.path.read_bytes() == BODY) == (
        cache_path(url, cache),
        SHA,
        True,
    )


def test_the_cache_file_is_named_by_the_url_hash_and_basename(url: str, cache: Path) -> None:
    key = hashlib.sha256(url.encode()).hexdigest()[:16]

    assert cache_path(url, cache) == cache / "downloads" / f"{key}-data.bin"


def test_without_an_expected_sha256_the_computed_one_is_recorded_next_to_the_file(
    make: Any, url: str
) -> None:
    [located] = make().locate(url)

    sidecar = json.loads(located.path.with_name(located.path.name + ".json").read_text())
    assert sidecar == {"url": url, "sha256": SHA, "size": len(BODY)}


def test_a_second_locate_uses_the_cache_without_a_request(make: Any, url: str, behaviour: Behaviour) -> None:
    make(sha256=SHA).locate(url)
    behaviour.ranges.clear()

    make(sha256=SHA).locate(url)

    assert behaviour.ranges == []


def test_a_truncated_response_is_retried_from_the_saved_byte_offset(
    make: Any, url: str, behaviour: Behaviour
) -> None:
    behaviour.truncate = [30_000]

    make().locate(url)

    assert behaviour.ranges == [None, "bytes=30000-"]


def test_resuming_after_truncations_gives_the_right_sha256(make: Any, url: str, behaviour: Behaviour) -> None:
    behaviour.truncate = [10_000, 25_000, 1]

    [located] = make(sha256=SHA).locate(url)

    assert (located.sha256, hashlib.sha256(located.path.read_bytes()).hexdigest()) == (SHA, SHA)


def test_a_part_file_left_by_an_earlier_run_is_resumed(
    make: Any, url: str, cache: Path, behaviour: Behaviour
) -> None:
    part = cache_path(url, cache).with_name(cache_path(url, cache).name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(BODY[:1234])

    make(sha256=SHA).locate(url)

    assert behaviour.ranges == ["bytes=1234-"]


def test_a_server_that_ignores_range_restarts_the_file_from_zero(
    make: Any, url: str, cache: Path, behaviour: Behaviour
) -> None:
    part = cache_path(url, cache).with_name(cache_path(url, cache).name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes that must not survive")
    behaviour.ignore_range = True

    [located] = make().locate(url)

    assert located.path.read_bytes() == BODY


def test_a_206_with_the_wrong_content_range_restarts_from_zero(
    make: Any, url: str, behaviour: Behaviour
) -> None:
    behaviour.truncate = [5000]
    behaviour.bad_content_range = 1

    make(sha256=SHA).locate(url)

    assert behaviour.ranges == [None, "bytes=5000-", None]


def test_a_corrupt_download_fails_naming_both_checksums(make: Any, url: str, behaviour: Behaviour) -> None:
    behaviour.corrupt = True
    actual = hashlib.sha256(bytes([BODY[0] ^ 0xFF]) + BODY[1:]).hexdigest()

    with pytest.raises(CodexError, match=f"sha256 {actual}, expected {SHA}"):
        make(sha256=SHA).locate(url)


def test_a_corrupt_download_is_not_kept(make: Any, url: str, cache: Path, behaviour: Behaviour) -> None:
    behaviour.corrupt = True
    with pytest.raises(CodexError):
        make(sha256=SHA).locate(url)

    assert sorted(p.name for p in (cache / "downloads").iterdir()) == []


def test_a_404_fails_clearly_after_one_request(make: Any, server: Any, behaviour: Behaviour) -> None:
    missing = f"http://127.0.0.1:{server.server_port}/missing.bin"
    with pytest.raises(CodexError, match="HTTP 404"):
        make(retries=4).locate(missing)

    assert behaviour.ranges == [None]


def test_a_server_error_is_retried_a_bounded_number_of_times(
    make: Any, url: str, behaviour: Behaviour
) -> None:
    behaviour.status = 503
    with pytest.raises(CodexError, match="after 3 attempt"):
        make(retries=2).locate(url)

    assert len(behaviour.ranges) == 3


def test_max_bytes_rejects_a_larger_declared_size(make: Any, url: str) -> None:
    with pytest.raises(CodexError, match="over max_bytes=1000"):
        make(max_bytes=1000).locate(url)


def test_max_bytes_stops_a_download_of_unknown_size(
    make: Any, url: str, cache: Path, behaviour: Behaviour
) -> None:
    behaviour.no_length = True
    with pytest.raises(CodexError, match="over max_bytes=1000"):
        make(max_bytes=1000).locate(url)

    assert list((cache / "downloads").iterdir()) == []


def test_a_tampered_cached_file_is_downloaded_again(make: Any, url: str, behaviour: Behaviour) -> None:
    [located] = make(sha256=SHA).locate(url)
    located.path.write_bytes(b"tampered")

    [again] = make(sha256=SHA).locate(url)

    assert again.path.read_bytes() == BODY


def test_a_source_that_is_not_a_url_is_an_error(make: Any) -> None:
    with pytest.raises(CodexError, match="not an http"):
        make().locate("ftp://127.0.0.1/data.bin")


def test_a_malformed_expected_sha256_is_a_params_error(make: Any) -> None:
    with pytest.raises(CodexError, match="64 hex digits"):
        make(sha256="abc")


def test_an_archive_download_is_unpacked_and_its_files_located(make: Any, server: ThreadingHTTPServer,
                                                               behaviour: Behaviour) -> None:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("corpus/a.txt", b"alpha\n"), ("corpus/sub/b.txt", b"beta\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    behaviour.files["/corpus.tar.gz"] = buffer.getvalue()
    url = f"http://127.0.0.1:{server.server_port}/corpus.tar.gz"

    located = make(extract=True).locate(url)
    again = make(extract=True).locate(url)

    assert [(loc.source.split("#")[1], loc.path.read_bytes()) for loc in located] == [
        ("corpus/a.txt", b"alpha\n"), ("corpus/sub/b.txt", b"beta\n")]
    assert located[0].sha256 == hashlib.sha256(b"alpha\n").hexdigest()
    assert again == located and behaviour.ranges.count(None) == 1
