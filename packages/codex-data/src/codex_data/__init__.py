"""codex-data: connectors and datasets for codex, registered through the ``codex`` entry point.

Importing this package is cheap; the public names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core.lazy import lazy_exports

__version__ = "1!0.3.0"

_LAZY = {
    "FileConnector": "codex_data.files",
    "find_files": "codex_data.files",
    "sha256_file": "codex_data.files",
    "source_root": "codex_data.files",
    "TextDataset": "codex_data.text",
    "TextParams": "codex_data.params",
    "StdlibCodeDataset": "codex_data.stdlib",
    "JsonlDataset": "codex_data.records",
    "CsvDataset": "codex_data.records",
    "SFTDataset": "codex_data.sft",
    "SFTExample": "codex_data.sft",
    "SFTParams": "codex_data.record_params",
    "ChatTemplate": "codex_data.sft",
    "template_source": "codex_data.sft",
    "pad_examples": "codex_data.sft",
    "HTTPConnector": "codex_data.http",
    "extract": "codex_data.archives",
    "assign_split": "codex_data.split",
    "SplitAssigner": "codex_data.split",
    "build_cache": "codex_data.token_cache",
    "load_cache": "codex_data.token_cache",
    "ensure_cache": "codex_data.token_cache",
    "TokenCache": "codex_data.token_cache",
    "DataFeed": "codex_data.feed",
    "Schedule": "codex_data.feed",
    "open_pipeline": "codex_data.pipeline",
    "prepare_cache": "codex_data.pipeline",
    "safety_policy": "codex_data.pipeline",
    "split_documents": "codex_data.pipeline",
    "LMSource": "codex_data.pipeline",
    "SFTSource": "codex_data.pipeline",
    "PaddedBatch": "codex_data.pipeline",
    "Policy": "codex_data.safety",
    "SafetyFilter": "codex_data.safety",
    "prepare": "codex_data.prepare",
    "dataset_sources": "codex_data.prepare",
}

__all__ = [
    "ChatTemplate",
    "CsvDataset",
    "DataFeed",
    "FileConnector",
    "HTTPConnector",
    "JsonlDataset",
    "LMSource",
    "PaddedBatch",
    "Policy",
    "SFTDataset",
    "SFTExample",
    "SFTParams",
    "SFTSource",
    "SafetyFilter",
    "Schedule",
    "SplitAssigner",
    "StdlibCodeDataset",
    "TextDataset",
    "TextParams",
    "TokenCache",
    "__version__",
    "assign_split",
    "build_cache",
    "dataset_sources",
    "ensure_cache",
    "extract",
    "find_files",
    "load_cache",
    "open_pipeline",
    "pad_examples",
    "prepare",
    "prepare_cache",
    "safety_policy",
    "sha256_file",
    "source_root",
    "split_documents",
    "template_source",
]


__getattr__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:  # pragma: no cover
    from codex_data.archives import extract
    from codex_data.feed import DataFeed, Schedule
    from codex_data.files import FileConnector, find_files, sha256_file, source_root
    from codex_data.http import HTTPConnector
    from codex_data.params import TextParams
    from codex_data.pipeline import (
        LMSource,
        PaddedBatch,
        SFTSource,
        open_pipeline,
        prepare_cache,
        safety_policy,
        split_documents,
    )
    from codex_data.prepare import dataset_sources, prepare
    from codex_data.record_params import SFTParams
    from codex_data.records import CsvDataset, JsonlDataset
    from codex_data.safety import Policy, SafetyFilter
    from codex_data.sft import ChatTemplate, SFTDataset, SFTExample, pad_examples, template_source
    from codex_data.split import SplitAssigner, assign_split
    from codex_data.stdlib import StdlibCodeDataset
    from codex_data.text import TextDataset
    from codex_data.token_cache import TokenCache, build_cache, ensure_cache, load_cache
