"""The ``stdlib-code`` dataset: this Python's standard library sources."""

from __future__ import annotations

import platform

import pytest

from codex_core.plugins import PluginManager
from codex_core.protocols import Document
from codex_data import StdlibCodeDataset


@pytest.fixture(scope="module")
def stdlib() -> tuple[StdlibCodeDataset, list[Document]]:
    dataset = PluginManager().registry.build("dataset", "stdlib-code")
    return dataset, list(dataset)


def test_yields_many_documents(stdlib: tuple[StdlibCodeDataset, list[Document]]) -> None:
    _, documents = stdlib
    assert len(documents) > 300


def test_ids_are_paths_relative_to_the_stdlib(stdlib: tuple[StdlibCodeDataset, list[Document]]) -> None:
    _, documents = stdlib
    assert "json/__init__.py" in {doc.id for doc in documents}


def test_test_suites_and_site_packages_are_excluded(stdlib: tuple[StdlibCodeDataset, list[Document]]) -> None:
    _, documents = stdlib
    excluded = ("test", "tests", "site-packages", "idle_test")
    assert [doc.id for doc in documents if set(doc.id.split("/")[:-1]) & set(excluded)] == []


def test_meta_has_the_relative_path(stdlib: tuple[StdlibCodeDataset, list[Document]]) -> None:
    _, documents = stdlib
    assert all(doc.meta["path"] == doc.id for doc in documents)


def test_records_the_python_version(stdlib: tuple[StdlibCodeDataset, list[Document]]) -> None:
    dataset, _ = stdlib
    assert dataset.python_version == platform.python_version()


def test_every_file_decoded(stdlib: tuple[StdlibCodeDataset, list[Document]]) -> None:
    dataset, documents = stdlib
    assert dataset.skipped + len(documents) == len(dataset.files)


def test_the_stdlib_connector_locates_the_datasets_files_with_their_sha256(codex_installed_registry):
    import hashlib
    import platform

    connector = codex_installed_registry.build("connector", "stdlib")

    located = connector.locate("stdlib")

    by_source = {loc.source: loc for loc in located}
    json_init = by_source["stdlib:json/__init__.py"]
    assert json_init.sha256 == hashlib.sha256(json_init.path.read_bytes()).hexdigest()
    assert not any("/test/" in loc.source for loc in located)
    assert connector.python_version == platform.python_version()
