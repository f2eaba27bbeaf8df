"""The Codex hook specifications: the public contract between codex and its plugins.

A plugin is a module named in the ``codex`` entry-point group. It implements any of the
hooks below, marked with ``codex_core.hookimpl``; it may accept a subset of a hook's
arguments (pluggy passes only those it names), so new arguments can be added later
without breaking plugins.

Registration hooks run once per process, when the registry is first built. They must be
cheap: pass lazy ``"module:attr"`` strings for factories and configs so that torch,
transformers or mlflow are imported only when a component is built.

Training-event hooks are fired by the training engine on every rank (``state.rank``
says which); most observers act on rank 0 only. An exception raised by an event hook
fails the run. ``codex_on_step_end`` and ``codex_on_eval`` may return ``True`` to ask
for a graceful stop: the engine finishes the step, writes a checkpoint and ends the run
with status ``"stopped"``.

Added in codex-core 0.1.0 (all hooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core import hookspec

if TYPE_CHECKING:  # pragma: no cover
    import click

    from codex_core.config import RunConfig
    from codex_core.events import TrainState
    from codex_core.fanout import LoggerFanout
    from codex_core.registry import RegisterFn
    from codex_core.runs import RunDir


@hookspec
def codex_register_tokenizers(register: RegisterFn) -> None:
    """Register tokenizers (components implementing ``codex_core.protocols.Tokenizer``).

    :param register: ``register(name, factory, *, description="", config=None, aliases=())``.

    Example::

        @hookimpl
        def codex_register_tokenizers(register):
            register("char", "my_pkg.char:CharTokenizer", config="my_pkg.char:CharConfig",
                     description="one token per character")
    """


@hookspec
def codex_register_models(register: RegisterFn) -> None:
    """Register model builders. A built model follows the model contract of the training
    engine: ``forward(input_ids, attention_mask=None, labels=None)``, called with keyword
    arguments, returns an object with ``.loss`` and ``.logits``.

    :param register: the registration callable (see ``codex_register_tokenizers``).

    Example::

        @hookimpl
        def codex_register_models(register):
            register("gpt2", "my_pkg.models:build_gpt2", config="my_pkg.models:GPT2Params",
                     aliases=("gpt-2",))
    """


@hookspec
def codex_register_datasets(register: RegisterFn) -> None:
    """Register datasets (components implementing ``codex_core.protocols.Dataset``).

    :param register: the registration callable (see ``codex_register_tokenizers``).

    Example::

        @hookimpl
        def codex_register_datasets(register):
            register("text", "my_pkg.text:TextDataset", config="my_pkg.text:TextParams")
    """


@hookspec
def codex_register_connectors(register: RegisterFn) -> None:
    """Register connectors (components implementing ``codex_core.protocols.Connector``),
    which turn a source URI into local files with their sha256.

    :param register: the registration callable (see ``codex_register_tokenizers``).

    Example::

        @hookimpl
        def codex_register_connectors(register):
            register("s3", "my_pkg.s3:S3Connector", config="my_pkg.s3:S3Params")
    """


@hookspec
def codex_register_metrics(register: RegisterFn) -> None:
    """Register evaluation metrics (components implementing ``codex_core.protocols.Metric``).

    :param register: the registration callable (see ``codex_register_tokenizers``).

    Example::

        @hookimpl
        def codex_register_metrics(register):
            register("exact-match", "my_pkg.metrics:ExactMatch", aliases=("em",))
    """


@hookspec
def codex_register_tasks(register: RegisterFn) -> None:
    """Register evaluation tasks (components implementing ``codex_core.protocols.Task``),
    run by ``codex eval`` and by ``trainer.eval_tasks``. A task's factory takes its params
    model (and, when it names one, ``context``) and returns an object whose
    ``evaluate(lm, request)`` turns a model (a ``codex_core.protocols.LanguageModel``) or
    given predictions into scored samples (a ``codex_core.evaluation.TaskResult``).

    :param register: the registration callable (see ``codex_register_tokenizers``).

    Added in codex-core 0.1.0.

    Example::

        @hookimpl
        def codex_register_tasks(register):
            register("my-qa", "my_pkg.qa:QATask", config="my_pkg.qa:QAParams",
                     description="exact match on my QA set")
    """


@hookspec
def codex_register_loggers(register: RegisterFn) -> None:
    """Register experiment loggers (components implementing ``codex_core.protocols.Logger``).

    :param register: the registration callable (see ``codex_register_tokenizers``).

    Example::

        @hookimpl
        def codex_register_loggers(register):
            register("wandb", "my_pkg.wandb:WandbLogger", config="my_pkg.wandb:WandbParams")
    """


@hookspec
def codex_register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``codex`` command line.

    :param cli: the top-level ``codex`` click group; call ``cli.add_command(...)`` or use
        ``@cli.command()``. Import heavy libraries inside the command body, not here.

    Example::

        @hookimpl
        def codex_register_commands(cli):
            @cli.command()
            def hello():
                "Say hello."
                click.echo("hello")
    """


@hookspec
def codex_on_train_start(
    run: RunDir, config: RunConfig, model: Any, state: TrainState, loggers: LoggerFanout
) -> str | None:
    """A training run starts (after a resume has been applied, before the first step).

    :param run: the run directory (``run.path``, ``run.name``).
    :param config: the resolved, validated run config.
    :param model: the built model (a ``torch.nn.Module`` for the built-in engine).
    :param state: the training state: ``step`` is above 0 on a resumed run. The engine
        updates this same object as the run goes on, so a plugin may keep it.
    :param loggers: the run's loggers (a ``LoggerFanout``; thread-safe), for plugins that
        log metrics of their own, e.g. from a background thread.
    :return: optionally one line for the run's start banner (what the plugin does and
        where it writes), else ``None``.

    Example::

        @hookimpl
        def codex_on_train_start(run, state):
            print(f"{run.name}: starting at step {state.step}")
    """


@hookspec
def codex_on_step_end(
    run: RunDir, state: TrainState, metrics: Mapping[str, float]
) -> bool | None:
    """An optimizer step finished (fired every step, after metrics are logged).

    :param run: the run directory.
    :param state: the training state after the step.
    :param metrics: this step's training metrics, e.g. ``{"train/loss": 2.31, "lr": 3e-4}``.
    :return: ``True`` to ask for a graceful stop, else ``None``.

    Example::

        @hookimpl
        def codex_on_step_end(state, metrics):
            if metrics.get("train/loss", 0) > 100:
                return True  # diverged: stop cleanly
    """


@hookspec
def codex_on_eval(run: RunDir, state: TrainState, metrics: Mapping[str, float]) -> bool | None:
    """A periodic evaluation finished.

    :param run: the run directory.
    :param state: the training state at the evaluation.
    :param metrics: evaluation metrics, e.g. ``{"val/loss": 2.1, "val/perplexity": 8.2}``.
    :return: ``True`` to ask for a graceful stop, else ``None``.

    Example::

        @hookimpl
        def codex_on_eval(metrics):
            print("val loss", metrics["val/loss"])
    """


@hookspec
def codex_on_checkpoint(run: RunDir, state: TrainState, path: Path) -> None:
    """A checkpoint was written completely (its completion marker is on disk).

    :param run: the run directory.
    :param state: the training state saved in the checkpoint.
    :param path: the checkpoint directory.

    Example::

        @hookimpl
        def codex_on_checkpoint(path):
            upload(path)
    """


@hookspec
def codex_on_train_end(
    run: RunDir, state: TrainState, status: str, metrics: Mapping[str, float]
) -> None:
    """A training run ended, whatever the reason.

    :param run: the run directory.
    :param state: the final training state.
    :param status: ``"completed"`` (a limit was reached), ``"stopped"`` (signal, early
        stopping or a hook asked) or ``"failed"`` (an exception; it is re-raised after).
    :param metrics: the last known metrics (training and evaluation).

    Example::

        @hookimpl
        def codex_on_train_end(run, status):
            notify(f"{run.name} {status}")
    """


REGISTRATION_HOOKS = {
    "tokenizer": "codex_register_tokenizers",
    "model": "codex_register_models",
    "dataset": "codex_register_datasets",
    "connector": "codex_register_connectors",
    "metric": "codex_register_metrics",
    "logger": "codex_register_loggers",
    "task": "codex_register_tasks",
}
"""Component kind -> the hook that registers components of that kind."""
