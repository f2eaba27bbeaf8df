"""The ``text`` dataset: documents per file or per line, with stable ids."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import codex_data.plugin
from codex_core.errors import CodexError, ComponentError
from codex_core.protocols import Dataset
from codex_core.registry import Registry


def build(registry: Registry, **params: Any) -> Any:
    return registry.build("dataset", "text", params)


def ids(dataset: Any) -> list[str]:
    return [doc.id for doc in dataset]


def test_text_dataset_implements_the_dataset_protocol(codex_installed_registry: Registry, corpus: Path) -> None:
    assert isinstance(build(codex_installed_registry, paths=[str(corpus)]), Dataset)


def test_file_mode_ids_are_paths_relative_to_the_directory(codex_installed_registry: Registry, corpus: Path) -> None:
    dataset = build(codex_installed_registry, paths=[str(corpus)])
    assert ids(dataset) == ["a.txt", "sub/b.txt", "sub/c.py"]


def test_file_mode_text_is_the_whole_file(codex_installed_registry: Registry, corpus: Path) -> None:
    (doc,) = build(codex_installed_registry, paths=[str(corpus / "sub" / "b.txt")])
    assert (doc.id, doc.text) == ("b.txt", "gamma")


def test_line_mode_gives_non_empty_lines_with_line_numbers(codex_installed_registry: Registry, corpus: Path) -> None:
    dataset = build(codex_installed_registry, paths=[str(corpus / "a.txt")], mode="line")
    assert [(doc.id, doc.text) for doc in dataset] == [("a.txt:1", "alpha"), ("a.txt:4", "beta")]


def test_glob_ids_are_relative_to_its_fixed_prefix(codex_installed_registry: Registry, corpus: Path) -> None:
    dataset = build(codex_installed_registry, paths=[f"{corpus}/sub/*.txt"])
    assert ids(dataset) == ["b.txt"]


def test_extensions_filter_the_files(codex_installed_registry: Registry, corpus: Path) -> None:
    dataset = build(codex_installed_registry, paths=[str(corpus)], extensions=[".py"])
    assert ids(dataset) == ["sub/c.py"]


def test_meta_has_the_path_and_sha256(codex_installed_registry: Registry, corpus: Path) -> None:
    (doc,) = build(codex_installed_registry, paths=[str(corpus / "sub" / "c.py")])
    assert sorted(doc.meta) == ["path", "sha256"]


def test_ids_and_fingerprint_are_the_same_for_a_copy_elsewhere(
    codex_installed_registry: Registry, corpus: Path, tmp_path: Path
) -> None:
    copy = shutil.copytree(corpus, tmp_path / "elsewhere" / "copy")
    here = build(codex_installed_registry, paths=[f"{corpus}/**/*"], mode="line")
    there = build(codex_installed_registry, paths=[f"{copy}/**/*"], mode="line")
    assert (ids(there), there.fingerprint()) == (ids(here), here.fingerprint())


def test_fingerprint_changes_when_a_file_changes(codex_installed_registry: Registry, corpus: Path) -> None:
    before = build(codex_installed_registry, paths=[str(corpus)]).fingerprint()
    (corpus / "sub" / "b.txt").write_text("delta")
    assert build(codex_installed_registry, paths=[str(corpus)]).fingerprint() != before


def test_fingerprint_depends_on_the_mode(codex_installed_registry: Registry, corpus: Path) -> None:
    by_file = build(codex_installed_registry, paths=[str(corpus)])
    by_line = build(codex_installed_registry, paths=[str(corpus)], mode="line")
    assert by_file.fingerprint() != by_line.fingerprint()


def test_a_file_that_is_not_valid_utf8_is_skipped_and_counted(
    codex_installed_registry: Registry, corpus: Path
) -> None:
    (corpus / "bad.txt").write_bytes(b"caf\xe9\n")
    dataset = build(codex_installed_registry, paths=[str(corpus)])
    documents = ids(dataset)
    assert (documents, dataset.skipped, dataset.skipped_files) == (
        ["a.txt", "sub/b.txt", "sub/c.py"], 1, ["bad.txt"]
    )


def test_the_encoding_param_decodes_other_encodings(codex_installed_registry: Registry, corpus: Path) -> None:
    (corpus / "latin.txt").write_bytes(b"caf\xe9")
    (doc,) = build(codex_installed_registry, paths=[str(corpus / "latin.txt")], encoding="latin-1")
    assert doc.text == "café"


def test_the_same_id_from_two_sources_is_an_error(codex_installed_registry: Registry, corpus: Path) -> None:
    (corpus / "sub" / "a.txt").write_text("another a")
    dataset = build(codex_installed_registry, paths=[str(corpus / "a.txt"), str(corpus / "sub" / "a.txt")])
    with pytest.raises(CodexError, match=r"two files have the document id 'a\.txt'"):
        list(dataset)


def test_paths_are_required(codex_installed_registry: Registry) -> None:
    with pytest.raises(ComponentError, match="missing key 'paths'"):
        codex_installed_registry.build("dataset", "text")


def test_an_unknown_param_is_an_error_naming_the_key(codex_installed_registry: Registry, corpus: Path) -> None:
    with pytest.raises(ComponentError, match="did you mean 'extensions'"):
        build(codex_installed_registry, paths=[str(corpus)], extension=[".txt"])


def test_an_unknown_encoding_is_an_error(codex_installed_registry: Registry, corpus: Path) -> None:
    with pytest.raises(ComponentError, match="unknown text encoding 'utf-9'"):
        build(codex_installed_registry, paths=[str(corpus)], encoding="utf-9")


def test_registered_through_the_test_fixtures(
    register_codex_plugin, codex_registry: Registry, corpus: Path
) -> None:
    register_codex_plugin(codex_data.plugin, name="data")
    dataset = codex_registry.build("dataset", "text", {"paths": [f"{corpus}/**/*.py"]})
    assert ids(dataset) == ["sub/c.py"]
