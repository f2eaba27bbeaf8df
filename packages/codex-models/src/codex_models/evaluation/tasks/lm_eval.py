"""The ``lm-eval`` task: EleutherAI's lm-evaluation-harness run on the checkpoint.

The model is handed to lm-eval's ``HFLM`` as a Hugging Face causal LM: the evaluated
model itself when it is a ``transformers`` model (same weights, dtype and device), else
the weights of its model directory (``lm.path``). The tokenizer is a
``PreTrainedTokenizerFast`` over the directory's ``tokenizer.json``, with bos/eos/pad/unk
taken from the codex tokenizer's special tokens; an empty context is the eos token (the
training data's document separator), as ``HFLanguageModel.loglikelihood`` has it, so
lm-eval and the built-in ``multiple-choice`` task score the same tokens. The harness runs
with ``HF_HUB_OFFLINE=1`` and ``HF_DATASETS_OFFLINE=1`` (the environment is restored
after), so only tasks whose data is local or already in the Hugging Face cache work: a
task YAML in ``include_path`` with ``dataset_path: json`` and ``dataset_kwargs:
{data_files: ...}`` runs fully offline. lm-eval's seeds are ``request.seed``; Python's,
numpy's and torch's global generators are put back after.

Results: lm-eval's metrics with the filter suffix dropped (``acc,none`` -> ``acc``; a task
with several filters keeps them as ``exact_match/strict-match``), without the ``_stderr``
keys (codex computes its own intervals), prefixed ``<task>/`` when several tasks (or a
group) report. Units are lm-eval's per-document samples (id ``<task>/<doc_id>``). A metric
that lm-eval averages over documents (its value is the mean of the per-document numbers,
as for ``acc``) gets bootstrap intervals over them; one it aggregates otherwise
(perplexities, corpus BLEU, F1, group scores) is reported as lm-eval computed it, without
an interval.

lm-eval is an optional extra: ``pip install 'codex-models[lm-eval]'``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codex_core.config.paths import ConfigPath
from codex_core.errors import CodexError, did_you_mean
from codex_core.evaluation import EvalRequest, TaskResult
from codex_models.evaluation.tasks.lm_eval_results import LMEvalScores, collect

INSTALL_HINT = "pip install 'codex-models[lm-eval]'"
_OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


class LMEvalParams(BaseModel):
    """Params of the ``lm-eval`` task."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[str] = Field(min_length=1, description="lm-eval task, group or tag names (or task YAML paths)")
    include_path: ConfigPath | None = Field(
        None, description="a folder of extra task YAMLs (relative to the config file that sets it)")
    num_fewshot: int | None = Field(None, ge=0, description="few-shot examples per prompt; default: each task's own")
    limit: int | None = Field(None, ge=1, description="score at most this many documents per task")
    batch_size: int = Field(8, ge=1, description="lm-eval's batch size")

    @field_validator("tasks")
    @classmethod
    def _plain_names(cls, value: list[str]) -> list[str]:
        if any(not name.strip() for name in value):
            raise ValueError("task names must not be empty")
        if len(set(value)) != len(value):
            raise ValueError("a task is named twice")
        return value


class LMEvalTask:
    """Runs lm-eval tasks on the model directory of ``lm`` (see the module docstring)."""

    def __init__(self, params: LMEvalParams) -> None:
        import importlib.util

        self.params = params
        if importlib.util.find_spec("lm_eval") is None:
            raise CodexError("the lm-eval task needs EleutherAI's lm-evaluation-harness, which is not installed",
                             hint=INSTALL_HINT)
        if params.include_path is not None and not Path(params.include_path).is_dir():
            raise CodexError(f"lm-eval include_path {params.include_path!r} is not a folder",
                             hint="point it at a folder of lm-eval task YAMLs")

    def scorers(self) -> list[Any]:
        return [LMEvalScores()]

    def evaluate(self, lm: Any, request: EvalRequest) -> TaskResult:
        if request.predictions is not None:
            raise CodexError("the lm-eval task cannot score given predictions: lm-eval runs the model itself",
                             hint="evaluate a model with --run or --model instead of --predictions")
        path = getattr(lm, "path", None) if lm is not None else None
        if path is None:
            raise CodexError("the lm-eval task needs a model directory (a checkpoint or --model DIR) for its "
                             "tokenizer.json", hint="run it with codex eval, not in trainer.eval_tasks")
        limit = self.params.limit
        if request.max_samples is not None:
            limit = request.max_samples if limit is None else min(limit, request.max_samples)
        request.advance(0, 1)
        with _offline(), _quiet(), _saved_rng():
            harness = _load_harness()
            tasks = self._task_manager(harness)
            with _hflm(lm, Path(path), self.params.batch_size) as model, _lean():
                results = self._run(harness, model, tasks, limit, request.seed)
        if results is None:
            raise CodexError("lm-eval returned no results (a distributed run's other rank?)")
        result = collect(results)
        request.advance(1, 1)
        return result

    def _run(self, harness: Any, model: Any, tasks: Any, limit: int | None, seed: int) -> Any:
        try:
            return harness.simple_evaluate(
                model=model, tasks=list(self.params.tasks), task_manager=tasks,
                num_fewshot=self.params.num_fewshot, limit=limit, log_samples=True, bootstrap_iters=0,
                random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed)
        except OSError as exc:  # data that is neither local nor cached (the hub is off)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CodexError(f"lm-eval could not read the data of {', '.join(self.params.tasks)}: {first}",
                             hint="lm-eval runs offline here: use local data files (dataset_path: json, "
                             "dataset_kwargs: {data_files: ...}) or datasets already in the Hugging Face "
                             "cache") from None

    def _task_manager(self, harness: Any) -> Any:
        """lm-eval's task index: only ``include_path`` when it holds every task named
        (indexing lm-eval's own few thousand tasks takes seconds), else both."""
        include = self.params.include_path
        names = self.params.tasks
        if include is not None:
            local = harness.TaskManager(include_path=include, include_defaults=False)
            if all(name in local.all_tasks for name in names):
                return local
        manager = harness.TaskManager(include_path=include)
        for name in names:
            if name not in manager.all_tasks and not _looks_like_path_or_glob(name):
                guess = did_you_mean(name, manager.all_tasks)
                raise CodexError(f"unknown lm-eval task {name!r}" + (f"; did you mean {guess!r}?" if guess else ""),
                                 hint="name lm-eval tasks, groups or tags, or give include_path for your own YAMLs")
        return manager


# -- running the harness -----------------------------------------------------------------------
def _load_harness() -> Any:
    """``simple_evaluate`` and ``TaskManager`` of the installed lm-eval."""
    from types import SimpleNamespace

    try:
        from lm_eval import simple_evaluate
        from lm_eval.tasks import TaskManager
    except ImportError as exc:
        raise CodexError(f"cannot import lm-eval: {exc}", hint=INSTALL_HINT) from None
    return SimpleNamespace(simple_evaluate=simple_evaluate, TaskManager=TaskManager)


def _looks_like_path_or_glob(name: str) -> bool:
    return any(c in name for c in "*?[") or name.endswith((".yaml", ".yml")) or os.sep in name


@contextlib.contextmanager
def _hflm(lm: Any, path: Path, batch_size: int) -> Iterator[Any]:
    """lm-eval's ``HFLM`` over the model of ``lm`` (when it is a ``transformers`` model:
    the same weights, dtype and device; its train/eval mode is restored after) or else the
    model directory's weights, with the directory's tokenizer.json."""
    from lm_eval.models.huggingface import HFLM
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

    from codex_models.models.model_dir import load_model

    if not (path / "tokenizer.json").is_file():
        raise CodexError(f"model directory {path} has no tokenizer.json, which lm-eval's tokenizer needs")
    specials = dict(getattr(getattr(lm, "tokenizer", None), "special_tokens", None) or {})
    if specials.get("eos") is None:
        raise CodexError(f"the tokenizer of {path} has no eos token, which lm-eval uses for an empty context",
                         hint="use a tokenizer with an eos special token")
    model = getattr(lm, "model", None)
    if not isinstance(model, PreTrainedModel):
        model = load_model(path, device=str(getattr(lm, "device", None) or "cpu"))
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path / "tokenizer.json"),
                                        clean_up_tokenization_spaces=False)
    roles = {f"{role}_token": tokenizer.convert_ids_to_tokens(int(specials[role]))
             for role in ("bos", "eos", "pad", "unk") if role in specials}
    tokenizer.add_special_tokens({k: v for k, v in roles.items() if v is not None})
    training = model.training
    try:
        yield HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, max_length=lm.context_length,
                   prefix_token_id=int(specials["eos"]))
    finally:
        model.train(training)


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """``HF_HUB_OFFLINE=1`` and ``HF_DATASETS_OFFLINE=1`` inside, the environment as it
    was after (also in the flags huggingface_hub and datasets read at import)."""
    import importlib

    saved_env = {name: os.environ.get(name) for name in _OFFLINE}
    os.environ.update(_OFFLINE)
    flags = [("huggingface_hub.constants", "HF_HUB_OFFLINE"), ("datasets.config", "HF_HUB_OFFLINE"),
             ("datasets.config", "HF_DATASETS_OFFLINE")]
    saved_flags = []
    for module_name, attr in flags:
        module = importlib.import_module(module_name)
        saved_flags.append((module, attr, getattr(module, attr, None)))
        setattr(module, attr, True)
    try:
        yield
    finally:
        for module, attr, value in saved_flags:
            setattr(module, attr, value)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _versions_only(storage: dict[str, Any]) -> None:
    """What codex keeps of lm-eval's environment report: the versions."""
    from importlib.metadata import version

    import transformers

    storage.update({"lm_eval_version": version("lm_eval"), "transformers_version": transformers.__version__})


@contextlib.contextmanager
def _lean() -> Iterator[None]:
    """lm-eval's environment report is skipped inside: torch's ``collect_env`` (seconds of
    subprocesses) and ``git describe`` (which prints "fatal: not a git repository" outside
    one). The result file records codex's own versions."""
    from lm_eval import evaluator

    saved = evaluator.add_env_info, evaluator.get_git_commit_hash
    evaluator.add_env_info, evaluator.get_git_commit_hash = _versions_only, lambda: None
    try:
        yield
    finally:
        evaluator.add_env_info, evaluator.get_git_commit_hash = saved


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """lm-eval's info and warning lines (about the pre-loaded model, default aggregations,
    its unmasked forward passes) and the datasets library's progress bars are hidden inside."""
    import logging

    import datasets
    from transformers.utils import logging as hf_logging

    logger = logging.getLogger("lm_eval")
    level, hf_level = logger.level, hf_logging.get_verbosity()
    logger.setLevel(logging.ERROR)
    hf_logging.set_verbosity_error()
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        logger.setLevel(level)
        hf_logging.set_verbosity(hf_level)
        if bars:
            datasets.enable_progress_bars()


@contextlib.contextmanager
def _saved_rng() -> Iterator[None]:
    """lm-eval seeds Python's, numpy's and torch's global generators; put them back after."""
    import random

    import numpy as np
    import torch

    states = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
