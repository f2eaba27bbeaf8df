"""``trainer.eval_tasks``: evaluation tasks run during training, every ``eval_every`` steps.

Each task is the registered task ``codex eval`` runs, on the model being trained (its
unwrapped module, in eval mode, under ``torch.inference_mode``), without bootstrap intervals,
with the context capped at ``trainer.seq_len`` (the positions being trained).
Every rank runs the same tasks on the same inputs, so a sharded (FSDP) model's collectives
line up; rank 0 logs. The results join the evaluation's metrics as ``eval/<label>/<key>``,
so ``trainer.monitor`` may name one (``eval/code-completion/pass@1`` with ``monitor_mode: max``).
Tasks sample with their own seeded generator and never touch the global RNGs, so a run with
eval tasks resumes bit-exactly.
"""

from __future__ import annotations

import math
from typing import Any

from codex_core.evaluation import EvalRequest, TaskSpec


class TaskEvaluator:
    """Runs a run config's ``trainer.eval_tasks`` on the model in training."""

    def __init__(self, config: Any, context: Any, tokenizer: Any) -> None:
        from codex_models.evaluation.runner import check_labels

        self.config, self.context, self.tokenizer = config, context, tokenizer
        self.specs = [TaskSpec(name=t.name, label=t.label, params=t.params) for t in config.trainer.eval_tasks]
        check_labels(self.specs)
        self.tasks = [context.build("task", spec.name, spec.params) for spec in self.specs]

    def __call__(self, model: Any) -> dict[str, float]:
        from codex_models.evaluation.lm import HFLanguageModel

        lm = HFLanguageModel(model, self.tokenizer, batch_size=self.config.trainer.micro_batch_size,
                             context_length=self.config.trainer.seq_len)
        request = EvalRequest(context=self.context, run_dir=self.context.run_dir, config=self.config,
                              seed=self.config.run.seed)
        metrics: dict[str, float] = {}
        for spec, task in zip(self.specs, self.tasks, strict=True):
            values = task.evaluate(lm, request).results()
            metrics.update({f"eval/{spec.key}/{k}": v for k, v in values.items() if math.isfinite(v)})
        return metrics
