"""The ``hf-disk`` dataset against real datasets saved with ``save_to_disk`` in the test."""

from __future__ import annotations

import builtins
import shutil
from pathlib import Path
from typing import Any

import pytest

datasets = pytest.importorskip("datasets")

from codex_core import hookimpl  # noqa: E402
from codex_core.errors import CodexError  # noqa: E402
from codex_core.protocols import Dataset  # noqa: E402
from codex_core.registry import Registry  # noqa: E402
from codex_data.hf_disk import HFDiskDataset, HFDiskParams  # noqa: E402


def save(path: Path, columns: dict[str, list[Any]]) -> Path:
    datasets.Dataset.from_dict(columns).save_to_disk(str(path))
    return path


def save_dict(path: Path, splits: dict[str, dict[str, list[Any]]]) -> Path:
    datasets.DatasetDict({k: datasets.Dataset.from_dict(v) for k, v in splits.items()}).save_to_disk(
        str(path)
    )
    return path


def hf(path: Path, **params: Any) -> HFDiskDataset:
    return HFDiskDataset(HFDiskParams(path=str(path), **params))


@pytest.fixture
def single(tmp_path: Path) -> Path:
    return save(tmp_path / "single", {"text": ["alpha", "beta", "gamma"], "lang": ["en", "de", "fr"]})


@pytest.fixture
def splits(tmp_path: Path) -> Path:
    return save_dict(
        tmp_path / "dict",
        {"train": {"text": ["a", "b"], "key": ["k1", "k2"]}, "test": {"text": ["c"], "key": ["k3"]}},
    )


class HFDiskPlugin:
    """The registration codex_data.plugin is to make for hf-disk."""

    @hookimpl
    def codex_register_datasets(self, register: Any) -> None:
        register("hf-disk", "codex_data.hf_disk:HFDiskDataset", config="codex_data.hf_disk:HFDiskParams")


# -- documents -------------------------------------------------------------------------
def test_a_saved_dataset_gives_one_document_per_row_with_index_ids(single: Path) -> None:
    docs = list(hf(single))
    assert [(d.id, d.text) for d in docs] == [("data:0", "alpha"), ("data:1", "beta"), ("data:2", "gamma")]
    assert docs[1].meta == {"split": "data", "row": 1, "fields": {"lang": "de"}}


def test_it_implements_the_dataset_protocol(single: Path) -> None:
    assert isinstance(hf(single), Dataset)


def test_a_split_of_a_dataset_dict_is_read_with_split_prefixed_ids(splits: Path) -> None:
    assert [(d.id, d.text) for d in hf(splits, split="train")] == [("train:0", "a"), ("train:1", "b")]
    assert [(d.id, d.text) for d in hf(splits, split="test")] == [("test:0", "c")]


def test_a_dataset_dict_without_a_split_is_an_error_listing_the_splits(splits: Path) -> None:
    with pytest.raises(CodexError, match=r"DatasetDict.*\['test', 'train'\]") as info:
        list(hf(splits))
    assert info.value.hint == "set split to one of: test, train"


def test_an_unknown_split_is_an_error_listing_the_splits(splits: Path) -> None:
    with pytest.raises(CodexError, match=r"no split 'valid'.*\['test', 'train'\]"):
        list(hf(splits, split="valid"))


def test_a_split_for_a_single_dataset_is_an_error(single: Path) -> None:
    with pytest.raises(CodexError, match="single Dataset"):
        list(hf(single, split="train"))


def test_id_field_gives_the_ids(splits: Path) -> None:
    assert [d.id for d in hf(splits, split="train", id_field="key")] == ["k1", "k2"]


def test_a_duplicate_id_is_a_bad_row(tmp_path: Path) -> None:
    path = save(tmp_path / "d", {"text": ["a", "b"], "key": ["x", "x"]})
    with pytest.raises(CodexError, match="row 1: duplicate id"):
        list(hf(path, id_field="key"))


def test_text_field_chooses_the_column(tmp_path: Path) -> None:
    path = save(tmp_path / "d", {"body": ["hello"], "text": ["not this"]})
    (doc,) = hf(path, text_field="body")
    assert doc.text == "hello"
    assert doc.meta["fields"] == {"text": "not this"}


def test_a_missing_column_is_an_error_naming_the_columns(single: Path) -> None:
    with pytest.raises(CodexError, match=r"no column 'body' \(columns: \['text', 'lang'\]\)"):
        list(hf(single, text_field="body"))


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match="no such folder"):
        list(hf(tmp_path / "nope"))


def test_a_folder_that_is_not_a_saved_dataset_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CodexError, match="not a saved Hugging Face dataset"):
        list(hf(tmp_path / "empty"))


# -- bad rows --------------------------------------------------------------------------
@pytest.fixture
def messy(tmp_path: Path) -> Path:
    return save(tmp_path / "messy", {"text": ["good", None, "also good", None]})


def test_a_missing_text_is_an_error_naming_the_row_index(messy: Path) -> None:
    with pytest.raises(CodexError, match=r"split 'data' row 1: missing text") as info:
        list(hf(messy))
    assert "bad_rows: skip" in (info.value.hint or "")


def test_bad_rows_skip_skips_and_counts(messy: Path) -> None:
    dataset = hf(messy, bad_rows="skip")
    assert [d.id for d in dataset] == ["data:0", "data:2"]
    assert dataset.skipped_rows == 2
    assert dataset.skipped_reasons == {"missing text": 2}
    list(dataset)  # counts start over on each pass
    assert dataset.skipped_rows == 2


def test_a_non_string_text_is_a_bad_row(tmp_path: Path) -> None:
    path = save(tmp_path / "ints", {"text": [1, 2]})
    with pytest.raises(CodexError, match="row 0: text not a string"):
        list(hf(path))
    dataset = hf(path, bad_rows="skip")
    assert list(dataset) == []
    assert dataset.skipped_reasons == {"text not a string": 2}


def test_rows_past_the_first_batch_keep_their_index(tmp_path: Path) -> None:
    texts: list[str | None] = [f"t{i}" for i in range(2500)]
    texts[2049] = None
    path = save(tmp_path / "big", {"text": texts})
    with pytest.raises(CodexError, match="row 2049:"):
        list(hf(path))
    docs = list(hf(path, bad_rows="skip"))
    assert len(docs) == 2499
    assert docs[-1].id == "data:2499"
    assert docs[-1].text == "t2499"


# -- params ----------------------------------------------------------------------------
def test_params_forbid_unknown_keys(single: Path) -> None:
    with pytest.raises(ValueError, match="extra"):
        HFDiskParams(path=str(single), txt_field="body")  # type: ignore[call-arg]


def test_params_have_descriptions() -> None:
    assert all(f.description for f in HFDiskParams.model_fields.values())


# -- fingerprint -----------------------------------------------------------------------
def test_the_fingerprint_covers_the_saved_arrow_and_json_files(splits: Path) -> None:
    rels = [rel for rel, _ in hf(splits, split="train").saved_files()]
    assert rels == sorted(rels)
    assert "dataset_dict.json" in rels
    assert any(r.startswith("train/") and r.endswith(".arrow") for r in rels)
    assert any(r.startswith("test/") and r.endswith(".arrow") for r in rels)


def test_the_fingerprint_is_stable_and_independent_of_location(single: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(single, copy)
    assert hf(single).fingerprint() == hf(single).fingerprint() == hf(copy).fingerprint()


def test_the_fingerprint_changes_with_the_data_and_the_params(tmp_path: Path, single: Path) -> None:
    other = save(tmp_path / "other", {"text": ["alpha", "beta", "delta"], "lang": ["en", "de", "fr"]})
    assert hf(single).fingerprint() != hf(other).fingerprint()
    assert hf(single).fingerprint() != hf(single, bad_rows="skip").fingerprint()
    assert hf(single).fingerprint() != hf(single, id_field="lang").fingerprint()


def test_the_fingerprint_differs_between_splits(splits: Path) -> None:
    assert hf(splits, split="train").fingerprint() != hf(splits, split="test").fingerprint()


# -- the optional dependency -----------------------------------------------------------
def test_without_datasets_building_is_a_codex_error_with_an_install_hint(
    single: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_datasets(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "datasets" or name.startswith("datasets."):
            raise ImportError("No module named 'datasets'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(CodexError, match="needs the 'datasets' package") as info:
        hf(single)
    assert info.value.hint == "pip install 'codex-data[hf]'"


# -- the registry ----------------------------------------------------------------------
def test_hf_disk_builds_through_the_registry(
    register_codex_plugin: Any, codex_registry: Registry, splits: Path
) -> None:
    register_codex_plugin(HFDiskPlugin(), name="hf-disk-test")
    dataset = codex_registry.build("dataset", "hf-disk", {"path": str(splits), "split": "test"})
    assert isinstance(dataset, HFDiskDataset)
    assert [d.text for d in dataset] == ["c"]


def test_the_registry_rejects_unknown_params(
    register_codex_plugin: Any, codex_registry: Registry, splits: Path
) -> None:
    register_codex_plugin(HFDiskPlugin(), name="hf-disk-test")
    with pytest.raises(CodexError):
        codex_registry.build("dataset", "hf-disk", {"path": str(splits), "splits": "test"})


def test_the_folder_in_a_config_file_is_relative_to_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codex_core.config import load_config
    from codex_core.context import BuildContext
    from codex_core.plugins import get_plugin_manager

    conf = tmp_path / "conf"
    save(conf / "saved", {"text": ["alpha", "beta"]})
    (conf / "run.yaml").write_text("tokenizer: char\nmodel: gpt2\ndata: {name: hf-disk, params: {path: saved}}\n",
                                   encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")

    config = load_config("../conf/run.yaml").config
    docs = list(BuildContext(registry=get_plugin_manager().registry).build("dataset", config.data))

    assert config.data.params["path"] == str(conf / "saved")
    assert [d.text for d in docs] == ["alpha", "beta"]
