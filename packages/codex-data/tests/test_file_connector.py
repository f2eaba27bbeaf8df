"""The ``file`` connector: a path, a directory or a glob to files with their sha256."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

import codex_data.plugin
from codex_core.errors import CodexError
from codex_core.protocols import Connector
from codex_core.registry import Registry


@pytest.fixture
def connector(codex_installed_registry: Registry) -> Connector:
    return codex_installed_registry.build("connector", "file")


def names(located: list, root: Path) -> list[str]:
    return [item.path.relative_to(root).as_posix() for item in located]


def test_file_connector_implements_the_connector_protocol(connector: Connector) -> None:
    assert isinstance(connector, Connector)


def test_a_directory_gives_every_file_below_it_sorted_without_hidden_ones(
    connector: Connector, corpus: Path
) -> None:
    assert names(connector.locate(str(corpus)), corpus) == ["a.txt", "sub/b.txt", "sub/c.py"]


def test_a_recursive_glob_matches_at_any_depth(connector: Connector, corpus: Path) -> None:
    assert names(connector.locate(f"{corpus}/**/*.txt"), corpus) == ["a.txt", "sub/b.txt"]


def test_a_plain_file_gives_itself(connector: Connector, corpus: Path) -> None:
    assert names(connector.locate(str(corpus / "sub" / "c.py")), corpus) == ["sub/c.py"]


def test_sha256_is_the_sha256_of_the_bytes(connector: Connector, corpus: Path) -> None:
    (located,) = connector.locate(str(corpus / "a.txt"))
    assert located.sha256 == hashlib.sha256((corpus / "a.txt").read_bytes()).hexdigest()


def test_file_hashes_are_cores_sha256_file() -> None:
    import codex_data
    from codex_core.fsutil import sha256_file

    assert codex_data.sha256_file is sha256_file


def test_located_records_its_source(connector: Connector, corpus: Path) -> None:
    source = f"{corpus}/sub/*"
    assert {item.source for item in connector.locate(source)} == {source}


def test_a_missing_path_is_an_error_naming_it(connector: Connector, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(CodexError, match=re.escape(f"data source '{missing}': no such file")):
        connector.locate(missing)


def test_a_glob_matching_nothing_is_an_error_naming_it(connector: Connector, corpus: Path) -> None:
    source = f"{corpus}/**/*.csv"
    with pytest.raises(CodexError, match=re.escape(f"data source '{source}' matches no files")):
        connector.locate(source)


def test_registered_through_the_test_fixtures(
    register_codex_plugin, codex_registry: Registry, corpus: Path
) -> None:
    register_codex_plugin(codex_data.plugin, name="data")
    located = codex_registry.build("connector", "file").locate(str(corpus / "sub"))
    assert names(located, corpus) == ["sub/b.txt", "sub/c.py"]
