"""What ``repro check`` compares between a run and its re-run: the logged metrics row by row,
the tokenizer and data fingerprints, and the weights of one checkpoint bit for bit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_models.repro import facts

if TYPE_CHECKING:  # pragma: no cover
    from codex_core.runs import RunDir

_MISSING = object()


def compared_metric(name: str) -> bool:
    """Whether metric ``name`` is compared (timing metrics and ``system/*`` are not)."""
    return name not in facts.TIMING and not name.startswith("system/")


def metrics_by_step(rows: Iterable[Mapping[str, Any]], last_step: int) -> dict[int, dict[str, Any]]:
    """``{step: {metric: value}}`` of the compared metrics of the rows up to ``last_step``."""
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        step = int(row["step"])
        if step > last_step:
            continue
        for key, value in (row.get("metrics") or {}).items():
            if compared_metric(key):
                found.setdefault(step, {})[key] = value
    return found


def compare_metrics(original: Iterable[Mapping[str, Any]], rerun: Iterable[Mapping[str, Any]],
                    last_step: int) -> dict[str, Any]:
    """Every compared value of the original's rows up to ``last_step`` against the re-run's,
    exactly. A value on one side only is a difference, except the re-run's additions at
    ``last_step`` (its end-of-run evaluation). Returns ``identical``, ``values`` (compared),
    ``first_difference`` (``step``, ``metric``, ``original``, ``rerun``) and ``per_metric``
    (``values``, ``differing``, ``first_step``, ``max_abs_diff``)."""
    a, b = metrics_by_step(original, last_step), metrics_by_step(rerun, last_step)
    per_metric: dict[str, dict[str, Any]] = {}
    first: dict[str, Any] | None = None
    values = 0
    for step in sorted(set(a) | set(b)):
        left, right = a.get(step, {}), b.get(step, {})
        keys = set(left) if step == last_step else set(left) | set(right)
        for key in sorted(keys):
            va, vb = left.get(key, _MISSING), right.get(key, _MISSING)
            entry = per_metric.setdefault(key, {"values": 0, "differing": 0, "first_step": None,
                                                "max_abs_diff": None})
            entry["values"] += 1
            values += 1
            if va == vb and type(va) is type(vb):
                continue
            entry["differing"] += 1
            if entry["first_step"] is None:
                entry["first_step"] = step
            gap = _abs_diff(va, vb)
            if gap is not None:
                entry["max_abs_diff"] = max(gap, entry["max_abs_diff"] or 0.0)
            if first is None:
                first = {"step": step, "metric": key, "original": _shown(va), "rerun": _shown(vb)}
    return {"identical": first is None, "values": values, "steps": len(a),
            "first_difference": first, "per_metric": dict(sorted(per_metric.items()))}


def _abs_diff(a: Any, b: Any) -> float | None:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return None
    return abs(float(a) - float(b))


def _shown(value: Any) -> Any:
    return "(missing)" if value is _MISSING else value


def compare_fingerprints(original: Mapping[str, Any], rerun: Mapping[str, Any]) -> dict[str, Any]:
    """The tokenizer and data fingerprints of the two manifests: ``{name: {original, rerun,
    match}}``; ``match`` is None where the original did not record one."""
    found = {}
    for name, read in (("tokenizer", facts.tokenizer_fingerprint), ("data", facts.data_fingerprint)):
        then, now = read(original), read(rerun)
        found[name] = {"original": then, "rerun": now, "match": None if then is None else then == now}
    return found


def compare_weights(run: RunDir, rerun: RunDir, last_step: int, device: str) -> dict[str, Any]:
    """The weights of the largest checkpoint of ``run`` up to ``last_step`` that still exists
    (and that the re-run wrote too) against the re-run's of that step, tensor by tensor, bit for
    bit: ``{"compared": True, "checkpoint", "step", "tensors", "differing": [names],
    "identical"}``, or ``{"compared": False, "reason"}``."""
    if not device.startswith("cpu"):
        return {"compared": False, "reason": f"the run trained on {device}, whose kernels are not bit for bit "
                                             "repeatable; weights are compared on CPU only"}
    kept = {info.step: info for info in run.checkpoints() if info.step <= last_step}
    if not kept:
        steps = ", ".join(str(info.step) for info in run.checkpoints()) or "none"
        return {"compared": False, "reason": f"the run keeps no checkpoint of step <= {last_step} (it has: {steps})"}
    written = {info.step: info for info in rerun.checkpoints()}
    common = sorted(set(kept) & set(written))
    if not common:
        return {"compared": False, "reason": f"the re-run wrote no checkpoint of the run's steps "
                                             f"{', '.join(map(str, sorted(kept)))}"}
    step = common[-1]
    path_a, path_b = kept[step].path / "model.safetensors", written[step].path / "model.safetensors"
    try:
        differing, count = differing_tensors(path_a, path_b)
    except (OSError, ValueError, RuntimeError) as exc:  # safetensors' errors are ValueError/RuntimeError kinds
        return {"compared": False, "reason": f"cannot read {path_a.parent.name}/model.safetensors: "
                                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"}
    return {"compared": True, "checkpoint": kept[step].path.name, "step": step, "tensors": count,
            "differing": differing, "identical": not differing}


def differing_tensors(a: Path, b: Path) -> tuple[list[str], int]:
    """The names of the tensors of safetensors files ``a`` and ``b`` whose dtype, shape or bytes
    differ (a name in one file only included), and how many names there are."""
    import torch
    from safetensors import safe_open

    with safe_open(str(a), framework="pt") as fa, safe_open(str(b), framework="pt") as fb:
        names_a, names_b = set(fa.keys()), set(fb.keys())
        differing = sorted(names_a ^ names_b)
        for name in sorted(names_a & names_b):
            ta, tb = fa.get_tensor(name), fb.get_tensor(name)
            if ta.dtype != tb.dtype or ta.shape != tb.shape or not torch.equal(_bits(ta), _bits(tb)):
                differing.append(name)
    return sorted(differing), len(names_a | names_b)


def _bits(tensor: Any) -> Any:
    import torch

    return tensor.contiguous().reshape(-1).view(torch.uint8)
