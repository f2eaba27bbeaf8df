"""The ``jsonl`` and ``csv`` datasets: one document per record, stable ids, counted bad rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from codex_core.errors import CodexError
from codex_core.protocols import Dataset
from codex_data.record_params import CsvParams, JsonlParams
from codex_data.records import CsvDataset, JsonlDataset


def jsonl(path: Path, *lines: Any) -> Path:
    """Write ``lines`` (objects are dumped as JSON, strings written as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8"
    )
    return path


def jsonl_dataset(*paths: Path, **params: Any) -> JsonlDataset:
    return JsonlDataset(JsonlParams(paths=[str(p) for p in paths], **params))


def csv_dataset(*paths: Path, **params: Any) -> CsvDataset:
    return CsvDataset(CsvParams(paths=[str(p) for p in paths], **params))


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A JSON Lines file with one good row and one bad row of each kind."""
    return jsonl(
        tmp_path / "data" / "messy.jsonl",
        {"text": "good"},
        "{not json",
        [1, 2],
        {"body": "no text field"},
        {"text": 42},
    )


# -- jsonl -----------------------------------------------------------------------------
def test_jsonl_gives_one_document_per_object_with_path_and_line_ids(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", {"text": "alpha"}, "", {"text": "beta", "lang": "en"})
    docs = list(jsonl_dataset(path))
    assert [(d.id, d.text) for d in docs] == [("a.jsonl:1", "alpha"), ("a.jsonl:3", "beta")]


def test_jsonl_meta_has_the_other_fields(tmp_path: Path) -> None:
    (doc,) = jsonl_dataset(jsonl(tmp_path / "a.jsonl", {"text": "beta", "lang": "en"}))
    assert doc.meta["fields"] == {"lang": "en"}


def test_jsonl_implements_the_dataset_protocol(tmp_path: Path) -> None:
    assert isinstance(jsonl_dataset(jsonl(tmp_path / "a.jsonl", {"text": "x"})), Dataset)


def test_jsonl_reads_directories_with_ids_relative_to_them(tmp_path: Path) -> None:
    jsonl(tmp_path / "d" / "one.jsonl", {"text": "1"})
    jsonl(tmp_path / "d" / "sub" / "two.jsonl", {"text": "2"})
    assert [d.id for d in jsonl_dataset(tmp_path / "d")] == ["one.jsonl:1", "sub/two.jsonl:1"]


def test_jsonl_text_and_id_fields_are_configurable(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", {"uid": "q1", "body": "x"}, {"uid": 7, "body": "y"})
    docs = list(jsonl_dataset(path, text_field="body", id_field="uid"))
    assert [(d.id, d.text) for d in docs] == [("q1", "x"), ("7", "y")]


def test_a_bad_row_is_an_error_naming_file_line_and_problem(messy: Path) -> None:
    with pytest.raises(CodexError, match=r"messy\.jsonl:2: invalid json"):
        list(jsonl_dataset(messy))


def test_skipped_bad_rows_are_counted_by_reason(messy: Path) -> None:
    dataset = jsonl_dataset(messy, bad_rows="skip")
    texts = [d.text for d in dataset]
    assert (texts, dataset.skipped_rows, dataset.skipped_reasons) == (
        ["good"],
        4,
        {"invalid json": 1, "not an object": 1, "missing text field": 1, "text not a string": 1},
    )


def test_skip_counts_start_again_on_each_pass(messy: Path) -> None:
    dataset = jsonl_dataset(messy, bad_rows="skip")
    list(dataset)
    list(dataset)
    assert dataset.skipped_rows == 4


def test_a_missing_text_field_error_lists_the_fields(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", {"body": "x"})
    with pytest.raises(
        CodexError, match=r"a\.jsonl:1: missing text field: no field 'text' \(fields: \['body'\]\)"
    ):
        list(jsonl_dataset(path))


def test_duplicate_ids_are_bad_rows(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", {"id": "x", "text": "1"}, {"id": "x", "text": "2"})
    with pytest.raises(CodexError, match=r"a\.jsonl:2: duplicate id"):
        list(jsonl_dataset(path, id_field="id"))


def test_a_missing_id_is_a_bad_row(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", {"text": "no id"})
    dataset = jsonl_dataset(path, id_field="id", bad_rows="skip")
    list(dataset)
    assert dataset.skipped_reasons == {"bad id": 1}


def test_invalid_utf8_lines_are_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "\xff"}\n')
    dataset = jsonl_dataset(path, bad_rows="skip")
    assert ([d.text for d in dataset], dataset.skipped_reasons) == (["ok"], {"not utf-8": 1})


def test_jsonl_ids_and_fingerprint_are_the_same_for_a_copy_elsewhere(tmp_path: Path) -> None:
    jsonl(tmp_path / "a" / "x.jsonl", {"text": "same"})
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    a, b = jsonl_dataset(tmp_path / "a"), jsonl_dataset(tmp_path / "b")
    assert ([d.id for d in a], a.fingerprint()) == ([d.id for d in b], b.fingerprint())


def test_jsonl_fingerprint_changes_with_content_and_params(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", {"text": "x", "t2": "y"})
    before = jsonl_dataset(path).fingerprint()
    other_field = jsonl_dataset(path, text_field="t2").fingerprint()
    jsonl(path, {"text": "changed", "t2": "y"})
    assert len({before, other_field, jsonl_dataset(path).fingerprint()}) == 3


# -- csv -------------------------------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_gives_one_document_per_row_after_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text,lang\nhello,en\nbonjour,fr\n")
    docs = list(csv_dataset(path))
    assert [(d.id, d.text, d.meta["fields"]) for d in docs] == [
        ("a.csv:2", "hello", {"lang": "en"}),
        ("a.csv:3", "bonjour", {"lang": "fr"}),
    ]


def test_csv_ids_name_the_line_a_multiline_row_starts_on(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'text\n"two\nlines"\nafter\n')
    assert [(d.id, d.text) for d in csv_dataset(path)] == [("a.csv:2", "two\nlines"), ("a.csv:4", "after")]


def test_csv_delimiter_and_id_field(tmp_path: Path) -> None:
    path = write(tmp_path / "a.tsv", "id\tbody\nq1\tone, with a comma\n")
    docs = list(csv_dataset(path, delimiter="\t", text_field="body", id_field="id"))
    assert [(d.id, d.text) for d in docs] == [("q1", "one, with a comma")]


def test_a_csv_row_with_the_wrong_column_count_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "id,text\n1,ok\n2,too,many\n")
    with pytest.raises(CodexError, match=r"a\.csv:3: wrong column count: 3 columns, the header has 2"):
        list(csv_dataset(path))


def test_skipped_csv_rows_are_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "id,text\n1,ok\n2\n3,fine\n")
    dataset = csv_dataset(path, bad_rows="skip")
    texts = [d.text for d in dataset]
    assert (texts, dataset.skipped_rows, dataset.skipped_reasons) == (
        ["ok", "fine"],
        1,
        {"wrong column count": 1},
    )


def test_a_csv_without_the_text_column_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "id,body\n1,x\n")
    with pytest.raises(CodexError, match=r"has no column 'text'"):
        list(csv_dataset(path))


def test_csv_fingerprint_covers_the_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text\nx\n")
    assert csv_dataset(path).fingerprint() != csv_dataset(path, delimiter=";").fingerprint()


def test_the_delimiter_must_be_one_character() -> None:
    with pytest.raises(ValueError, match="one character"):
        CsvParams(paths=["x.csv"], delimiter=";;")
