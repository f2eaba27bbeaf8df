"""The codex plugin module of codex-models (named in its `codex` entry point).

Registers components by lazy ``"module:attr"`` references: importing this module imports
nothing but ``codex_core.hookimpl`` (no torch, transformers or pydantic).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_core import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import click

    from codex_core.registry import RegisterFn


@hookimpl
def codex_register_models(register: RegisterFn) -> None:
    register(
        "gpt2",
        "codex_models.models.gpt2:build_gpt2",
        config="codex_models.models.gpt2:GPT2Params",
        description="GPT-2 (Hugging Face transformers) built from a preset, randomly initialised",
    )
    register(
        "llama",
        "codex_models.models.llama:build_llama",
        config="codex_models.models.llama:LlamaParams",
        description="Llama (Hugging Face transformers) built from a preset, randomly initialised",
    )
    register(
        "hf-local",
        "codex_models.models.hf_local:build_hf_local",
        config="codex_models.models.hf_local:HFLocalParams",
        description="a causal LM in Hugging Face format from a local directory (local_files_only, never downloaded)",
    )


_M = "codex_models.evaluation.metrics"
_T = "codex_models.evaluation.tasks"


@hookimpl
def codex_register_metrics(register: RegisterFn) -> None:
    register("exact-match", f"{_M}.exact_match:ExactMatch", config=f"{_M}.exact_match:ExactMatchParams",
             description="fraction of predictions equal to their reference", aliases=("em",))
    register("squad-f1", f"{_M}.squad:SquadF1",
             description="SQuAD token F1 after SQuAD normalisation (best over references) -> f1")
    register("bleu", f"{_M}.sacrebleu_metrics:BLEU", config=f"{_M}.sacrebleu_metrics:BLEUParams",
             description="sacrebleu corpus BLEU, 0-100 (extra: codex-models[eval])")
    register("chrf", f"{_M}.sacrebleu_metrics:CHRF", config=f"{_M}.sacrebleu_metrics:CHRFParams",
             description="sacrebleu corpus chrF, 0-100 (extra: codex-models[eval])")
    register("rouge-l", f"{_M}.rouge:RougeL", description="ROUGE-L F-measure (rouge-score; extra: codex-models[eval])")
    register("distinct-n", f"{_M}.distinct:DistinctN",
             description="distinct unigrams and bigrams over all predictions -> distinct_1, distinct_2")
    register("pass-at-k", f"{_M}.pass_at_k:PassAtK", config=f"{_M}.pass_at_k:PassAtKParams",
             description="unbiased pass@k (Chen et al. 2021) over problems' sample results")
    register("accuracy", f"{_M}.accuracy:Accuracy", config=f"{_M}.accuracy:AccuracyParams",
             description="fraction of predictions equal to their label -> acc")


@hookimpl
def codex_register_tasks(register: RegisterFn) -> None:
    register("perplexity", f"{_T}.perplexity:PerplexityTask", config=f"{_T}.perplexity:PerplexityParams",
             description="loss, perplexity and bits per byte on a split of the run's data or a dataset")
    register("code-completion", f"{_T}.code_completion:CodeCompletionTask",
             config=f"{_T}.code_completion:CodeCompletionParams",
             description="pass@k on HumanEval-format problems (built-in: stdlib doctests), run in a sandbox")
    register("generation", f"{_T}.generation:GenerationTask", config=f"{_T}.generation:GenerationParams",
             description="continuations of jsonl prompts scored against references by text metrics")
    register("multiple-choice", f"{_T}.multiple_choice:MultipleChoiceTask",
             config=f"{_T}.multiple_choice:MultipleChoiceParams",
             description="the choice with the highest log-likelihood -> acc, acc_norm")
    register("lm-eval", f"{_T}.lm_eval:LMEvalTask", config=f"{_T}.lm_eval:LMEvalParams",
             description="EleutherAI lm-evaluation-harness tasks on the checkpoint (extra: codex-models[lm-eval])")


@hookimpl
def codex_register_commands(cli: click.Group) -> None:
    from codex_models.cli.models_cmd import models

    cli.add_command(models)
    from codex_models.cli.generate_cmd import generate

    cli.add_command(generate)
    from codex_models.cli.export_cmd import export

    cli.add_command(export)
    from codex_models.cli.train_cmd import train

    cli.add_command(train)
    from codex_models.cli.eval_cmd import eval_

    cli.add_command(eval_)
    from codex_models.cli.repro_cmd import repro

    cli.add_command(repro)
