"""What the text metrics share: checking a batch, a sample's references (one string or a
list of acceptable strings), and importing an optional library with a one-line error.

Pure Python; nothing here imports sacrebleu, rouge-score or torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from codex_core.errors import CodexError

EVAL_EXTRA_HINT = "pip install 'codex-models[eval]'"


def check_batch(metric: str, predictions: Sequence[Any], references: Sequence[Any]) -> None:
    """A ``ValueError`` when the batch has not one reference per prediction, a
    ``TypeError`` when a prediction is not a string."""
    if len(predictions) != len(references):
        raise ValueError(f"{metric} got {len(predictions)} predictions for {len(references)} references")
    for prediction in predictions:
        if not isinstance(prediction, str):
            raise TypeError(f"{metric} scores text: got a prediction of type {type(prediction).__name__}")


def reference_list(metric: str, reference: Any) -> list[str]:
    """A sample's references as a list: a string is one reference; a list (or tuple) of
    strings are alternatives (``None`` entries are dropped); anything else, or no
    reference at all, is an error."""
    if isinstance(reference, str):
        return [reference]
    if isinstance(reference, (list, tuple)):
        refs = [r for r in reference if r is not None]
        if not refs:
            raise ValueError(f"{metric} got a sample with no references")
        odd = next((r for r in refs if not isinstance(r, str)), None)
        if odd is None:
            return refs
        reference = odd
    raise TypeError(f"{metric} wants a reference string or a list of them, got {type(reference).__name__}")


def require(module: str, package: str, metric: str) -> Any:
    """Import ``module`` (an optional dependency of ``metric``) or raise a one-line
    ``CodexError`` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise CodexError(f"the {metric} metric needs {package}, which is not installed",
                         hint=EVAL_EXTRA_HINT) from None


def same_params(metric: Any, other: Any) -> None:
    """``merge``'s check: ``other`` is the same metric with the same params."""
    if type(other) is not type(metric):
        raise TypeError(f"cannot merge {type(other).__name__} into {type(metric).__name__}")
    if getattr(other, "params", None) != getattr(metric, "params", None):
        raise ValueError(f"cannot merge {type(metric).__name__} metrics with different params")
