"""The ``perplexity`` task on the shared tiny trained run: loss, perplexity and bits per byte
equal an independent strided computation with ``transformers`` on the exported model (for
documents shorter and longer than the context, from a dataset and from the run's test split),
every token is predicted once, and bad params are one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from codex_core.config import load_config
from codex_core.context import BuildContext
from codex_core.errors import CodexError
from codex_core.evaluation import EvalRequest
from codex_core.plugins import get_plugin_manager
from codex_models.evaluation.lm import HFLanguageModel

CONTEXT = 64
DOCS = {  # shorter and much longer than the context of 64 (the char tokenizer: a token a character)
    "a.txt": "def f(x):\n    return x\n",
    "b.txt": "x = 1\n",
    "c.txt": "for x in items:\n    total = total + x  # café\n" * 9,
    "d.txt": "if x else y\n" * 25,
}


@pytest.fixture(scope="module")
def checkpoint(eval_run: Path) -> Path:
    return eval_run / "checkpoints" / "step-00000030"


@pytest.fixture(scope="module")
def exported(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``codex export`` of the run's last checkpoint."""
    from codex_core.cli import main

    out = tmp_path_factory.mktemp("export") / "model"
    with pytest.raises(SystemExit) as done:
        main(["export", "--checkpoint", str(checkpoint), "-o", str(out)])
    assert done.value.code in (0, None)
    return out


@pytest.fixture(scope="module")
def hf(exported: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(exported).eval(), AutoTokenizer.from_pretrained(exported)


@pytest.fixture(scope="module")
def lm(checkpoint: Path) -> HFLanguageModel:
    return HFLanguageModel.from_dir(checkpoint, device="cpu", batch_size=4)


@pytest.fixture(scope="module")
def context(eval_run: Path) -> BuildContext:
    registry = get_plugin_manager().registry
    return BuildContext(registry=registry, cache_dir=eval_run.parent.parent / "home")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ppl-docs")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def task(context: BuildContext, **params: Any) -> Any:
    return context.build("task", "perplexity", params)


def evaluate(context: BuildContext, lm: HFLanguageModel, *, config: Any = None, max_samples: int | None = None,
             progress: list[tuple[int, int]] | None = None, **params: Any) -> Any:
    request = EvalRequest(context=context, config=config, max_samples=max_samples,
                          progress=(lambda d, t: progress.append((d, t))) if progress is not None else None)
    return task(context, **params).evaluate(lm, request)


def hf_strided_nll(model: Any, ids: list[int], max_length: int, stride: int) -> tuple[float, int]:
    """The strided evaluation of transformers' perplexity guide, in float64: windows start
    every ``stride`` tokens, the labels of all but the window's last ``end - previous end``
    tokens are -100, and token 0 (the separator) is never a label."""
    total, count, previous_end = 0.0, 0, 0
    for begin in range(0, len(ids), stride):
        end = min(begin + max_length, len(ids))
        labels = torch.tensor([ids[begin:end]])
        labels[:, :-(end - previous_end)] = -100
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids[begin:end]])).logits.double()
        targets = labels[0, 1:]
        token_nll = -torch.log_softmax(logits[0, :-1], dim=-1).gather(-1, targets.clamp(min=0)[:, None])[:, 0]
        total += float(token_nll[targets != -100].sum())
        count += int((targets != -100).sum())
        previous_end = end
        if end == len(ids):
            break
    return total, count


def independent(model: Any, documents: list[list[int]], sizes: list[int], max_length: int,
                stride: int) -> dict[str, float]:
    scores = [hf_strided_nll(model, ids, max_length, stride) for ids in documents]
    nll, tokens = math.fsum(s for s, _ in scores), sum(n for _, n in scores)
    return {"loss": nll / tokens, "perplexity": math.exp(nll / tokens),
            "bits_per_byte": nll / math.log(2) / sum(sizes), "tokens": tokens, "documents": len(documents)}


def assert_results_match(got: dict[str, float], want: dict[str, float]) -> None:
    for key in ("loss", "perplexity", "bits_per_byte"):
        assert got[key] == pytest.approx(want[key], rel=1e-5), key
    assert (got["tokens"], got["documents"]) == (want["tokens"], want["documents"])


@pytest.mark.parametrize("max_length,stride", [(None, None), (16, 5)])
def test_a_datasets_perplexity_equals_transformers_on_the_exported_model(
        context, lm, hf, corpus, max_length, stride) -> None:
    model, tokenizer = hf
    params = {"dataset": {"name": "text", "params": {"paths": [str(corpus)]}}, "max_length": max_length,
              "stride": stride}

    result = evaluate(context, lm, **params)

    texts = [DOCS[name] for name in sorted(DOCS)]
    documents = [[tokenizer.eos_token_id, *tokenizer(text)["input_ids"]] for text in texts]
    assert min(map(len, documents)) < CONTEXT < max(map(len, documents)) // 4
    sizes = [len(text.encode("utf-8")) for text in texts]
    assert sum(sizes) > sum(map(len, texts))  # "é" is two bytes
    want = independent(model, documents, sizes, max_length or CONTEXT, stride or CONTEXT // 2)
    assert_results_match(result.results(), want)
    assert result.ids == sorted(DOCS)
    assert [s["tokens"] for s in result.samples] == [len(d) - 1 for d in documents]  # each token once
    assert [s["bytes"] for s in result.samples] == sizes


def test_the_test_splits_perplexity_equals_transformers_on_the_token_caches_documents(
        eval_run, context, lm, hf) -> None:
    from codex_data import prepare_cache

    model, tokenizer = hf
    config = load_config(eval_run / "config.yaml").config
    progress: list[tuple[int, int]] = []

    result = evaluate(context, lm, config=config, progress=progress)

    # The same documents read independently: the token cache's test split is each document's
    # tokens followed by the separator.
    run_tokenizer = context.build("tokenizer", config.tokenizer)
    cache = prepare_cache(config.data, run_tokenizer, context, seed=config.data.split.seed)
    assert not cache.built
    eos = tokenizer.eos_token_id
    split = [int(t) for t in cache.split("test")]
    ends = [i for i, t in enumerate(split) if t == eos]
    bodies = [split[a + 1:b] for a, b in zip([-1, *ends[:-1]], ends, strict=True)]
    documents = [[eos, *body] for body in bodies]
    sizes = [len(tokenizer.decode(body).encode("utf-8")) for body in bodies]
    assert len(documents) >= 2 and all(len(d) > CONTEXT for d in documents)
    assert_results_match(result.results(), independent(model, documents, sizes, CONTEXT, CONTEXT // 2))
    assert sum(s["tokens"] for s in result.samples) == len(split) - len(ends)  # every token once
    assert progress[-1] == (len(documents), len(documents))
    record = result.samples[0]
    assert set(record) == {"id", "tokens", "bytes", "nll", "loss"} and record["loss"] == record["nll"] / record["tokens"]
    json.dumps(result.stats())  # statistics are JSON-serialisable


def test_max_samples_scores_the_first_documents(eval_run, context, lm) -> None:
    config = load_config(eval_run / "config.yaml").config

    every = evaluate(context, lm, config=config, split="val")
    first = evaluate(context, lm, config=config, split="val", max_samples=2)

    assert first.ids == every.ids[:2] and first.results()["documents"] == 2
    # the same documents; the nll only up to float rounding, as windows are batched with others
    assert [{**s, "nll": pytest.approx(s["nll"], rel=1e-9), "loss": pytest.approx(s["loss"], rel=1e-9)}
            for s in every.samples[:2]] == first.samples


def test_the_scorer_recomputes_from_resampled_statistics(context, lm, corpus) -> None:
    result = evaluate(context, lm, dataset={"name": "text", "params": {"paths": [str(corpus)]}})
    (scorer,) = result.scorers
    stats = scorer.sample_stats()

    assert scorer.compute_from(stats) == scorer.compute()
    doubled = scorer.compute_from(stats + stats)
    assert doubled["loss"] == pytest.approx(scorer.compute()["loss"]) and doubled["documents"] == 2 * len(stats)
    assert [type(s).__name__ for s in task(context, dataset={"name": "text", "params": {"paths": ["x"]}}).scorers()] \
        == ["PerplexityScore"]


def test_split_without_a_run_is_a_one_line_error_offering_dataset(context, lm) -> None:
    with pytest.raises(CodexError, match=r"test split needs the run's data config.*--run") as info:
        evaluate(context, lm)
    assert "dataset=" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("params,message", [
    ({"split": "test", "dataset": {"name": "text"}}, "give split or dataset, not both"),
    ({"split": None}, "give split .* or dataset"),
    ({"max_length": 16, "stride": 16}, r"stride \(16\) must be below max_length \(16\)"),
    ({"max_length": 1}, "max_length"),
    ({"splitt": "test"}, "splitt"),
])
def test_bad_params_are_errors(context, params, message) -> None:
    with pytest.raises(CodexError, match=message):
        task(context, **params)


def test_a_window_longer_than_the_context_or_an_empty_dataset_is_an_error(context, lm, corpus, tmp_path) -> None:
    dataset = {"name": "text", "params": {"paths": [str(corpus)]}}
    with pytest.raises(CodexError, match="max_length 65 is more than the model's context of 64"):
        evaluate(context, lm, dataset=dataset, max_length=65)
    with pytest.raises(CodexError, match="stride 64 must be below max_length 64"):
        evaluate(context, lm, dataset=dataset, stride=64)
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(CodexError, match="dataset 'text' has no documents to score"):
        evaluate(context, lm, dataset={"name": "text", "params": {"paths": [str(tmp_path)]}})
