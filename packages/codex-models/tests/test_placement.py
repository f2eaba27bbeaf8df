"""Dtype and device placement of built models (``codex_models.models.placement``).

Runs on any machine: the CUDA tests check the error where there is no CUDA device and a
real placement where there is one.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from codex_core.errors import CodexError, ComponentError
from codex_core.registry import Registry
from codex_models import GPT2Params, LlamaParams, param_count
from codex_models.models.gpt2 import build_gpt2
from codex_models.models.llama import build_llama
from codex_models.models.placement import describe, place, resolve_device, resolve_dtype

torch = pytest.importorskip("torch")

FAMILIES = [("gpt2", GPT2Params, build_gpt2), ("llama", LlamaParams, build_llama)]
HAS_CUDA = torch.cuda.is_available()


def forward(model: Any) -> Any:
    ids = torch.randint(0, 104, (2, 8), generator=torch.Generator().manual_seed(0))
    device = next(model.parameters()).device
    ids = ids.to(device)
    return model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids)


@pytest.mark.parametrize(("family", "params_cls", "build"), FAMILIES)
def test_bf16_build_has_every_parameter_in_bf16_and_runs_forward(family: str, params_cls: Any, build: Any) -> None:
    torch.manual_seed(0)
    model = build(params_cls(dtype="bf16"))
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    out = forward(model)
    assert out.logits.dtype == torch.bfloat16
    assert torch.isfinite(out.loss.float()).item()
    info = describe(model)
    assert info["dtype"] == "bf16"
    assert info["device"] == "cpu"
    assert info["bytes"] == 2 * info["params"]


@pytest.mark.parametrize(("family", "params_cls", "build"), FAMILIES)
def test_default_build_is_fp32_on_cpu(family: str, params_cls: Any, build: Any) -> None:
    info = describe(build(params_cls()))
    assert (info["dtype"], info["device"]) == ("fp32", "cpu")
    assert info["bytes"] == 4 * info["params"]


@pytest.mark.parametrize(("family", "params_cls", "build"), FAMILIES)
def test_describe_counts_match_param_count_of_tiny_presets(family: str, params_cls: Any, build: Any) -> None:
    params = params_cls(preset="tiny")
    info = describe(build(params))
    assert info["params"] == param_count(family, params.architecture())
    assert info["trainable"] == info["params"]


def test_describe_counts_trainable_parameters_only_when_they_require_grad() -> None:
    model = build_gpt2()
    model.transformer.wpe.weight.requires_grad_(False)
    info = describe(model)
    assert info["trainable"] == info["params"] - model.transformer.wpe.weight.numel()


def test_meta_builds_stay_on_meta_and_take_the_dtype() -> None:
    with torch.device("meta"):
        model = build_llama(LlamaParams(dtype="bf16"))
    assert all(p.is_meta and p.dtype == torch.bfloat16 for p in model.parameters())


def test_fp16_on_cpu_is_a_clear_error() -> None:
    with pytest.raises(CodexError, match="fp16 needs a CUDA device; use bf16 or fp32 on cpu"):
        build_gpt2(GPT2Params(dtype="fp16"))
    with pytest.raises(CodexError, match="fp16 needs a CUDA device"):
        resolve_dtype("fp16", "cpu")


def test_bf16_and_fp32_resolve_on_cpu() -> None:
    assert resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    assert resolve_dtype("fp32", "cpu") == torch.float32
    with pytest.raises(CodexError, match="unknown dtype 'fp8'"):
        resolve_dtype("fp8", "cpu")


def test_auto_resolves_to_the_best_device_here() -> None:
    device = resolve_device("auto")
    if HAS_CUDA:
        assert device.type == "cuda"
    elif torch.backends.mps.is_available():
        assert device.type == "mps"
    else:
        assert device == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("spec", ["cuda", "cuda:0"])
def test_cuda_errors_without_cuda_and_places_with_it(spec: str) -> None:
    if not HAS_CUDA:
        with pytest.raises(CodexError, match=rf"device '{spec}' is not available \(this machine has no CUDA"
                                             r" devices\); use device: cpu or auto"):
            resolve_device(spec)
        with pytest.raises(CodexError, match="not available"):
            build_gpt2(GPT2Params(device=spec))
        return
    model = build_llama(LlamaParams(device=spec))
    assert {p.device.type for p in model.parameters()} == {"cuda"}
    assert describe(model)["device"].startswith("cuda")
    assert torch.isfinite(forward(model).loss).item()


def test_a_cuda_index_beyond_the_devices_here_is_an_error() -> None:
    count = torch.cuda.device_count() if HAS_CUDA else 0
    spec = f"cuda:{max(count, 3)}"
    with pytest.raises(CodexError, match=rf"device '{spec}' is not available"):
        resolve_device(spec)


def test_fp16_and_bf16_on_cuda_where_there_is_one() -> None:
    if not HAS_CUDA:
        with pytest.raises(CodexError, match="no CUDA devices"):
            build_gpt2(GPT2Params(dtype="fp16", device="cuda"))
        return
    model = build_gpt2(GPT2Params(dtype="fp16", device="cuda"))
    assert describe(model)["dtype"] == "fp16"
    if torch.cuda.is_bf16_supported():
        assert resolve_dtype("bf16", "cuda") == torch.bfloat16
    else:
        with pytest.raises(CodexError, match="bf16 is not supported"):
            resolve_dtype("bf16", "cuda")


def test_place_moves_an_existing_model() -> None:
    model = place(build_gpt2(), "bf16", "auto" if not HAS_CUDA else "cpu")
    assert describe(model)["dtype"] == "bf16"


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "CUDA", "cuda:", "cpu:0 ", ""])
@pytest.mark.parametrize("params_cls", [GPT2Params, LlamaParams])
def test_bad_device_strings_fail_config_validation_naming_the_field(params_cls: Any, bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        params_cls(device=bad)
    errors = info.value.errors()
    assert [e["loc"] for e in errors] == [("device",)]
    assert "unknown device" in errors[0]["msg"]


@pytest.mark.parametrize("good", ["auto", "cpu", "cuda", "cuda:0", "cuda:3", "mps"])
def test_device_strings_of_every_form_validate_without_torch_checks(good: str) -> None:
    assert GPT2Params(device=good).device == good


def test_bad_dtype_fails_config_validation() -> None:
    with pytest.raises(ValidationError) as info:
        LlamaParams(dtype="fp8")
    assert [e["loc"] for e in info.value.errors()] == [("dtype",)]


def test_registry_build_reports_a_bad_device_naming_the_field(codex_installed_registry: Registry) -> None:
    with pytest.raises(ComponentError, match=r"device: unknown device 'gpu'.*params of model 'gpt2'"):
        codex_installed_registry.build("model", "gpt2", {"device": "gpu"})


def test_registry_build_places_the_model(codex_installed_registry: Registry) -> None:
    model = codex_installed_registry.build("model", "llama", {"dtype": "bf16", "device": "cpu"})
    assert describe(model)["dtype"] == "bf16"
