"""The training engine: one loop, read top to bottom.

``Trainer(config, run, ...)`` has the five-method shape: :meth:`setup` builds everything
from the config (tokenizer, data, model, optimizer, loggers) and applies a resume;
:meth:`train` runs the loop; :meth:`save_checkpoint` / :meth:`load_checkpoint` write and
read complete checkpoints; :meth:`cleanup` closes what setup opened.

Exactness: every random choice flows from ``run.seed`` (model init, data order, dropout),
the learning rate is a function of the step, and a checkpoint holds everything else
(weights, optimizer, RNGs, data position), so the same config gives the same weights, and
a run killed and resumed gives the weights of one that never stopped.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_core.errors import CodexError
from codex_core.events import TrainState
from codex_core.faults import failpoint
from codex_models.training import checkpoint as ckpt
from codex_models.training.data import IGNORE_INDEX, MicroBatch
from codex_models.training.eval_tasks import TaskEvaluator
from codex_models.training.numerics import (
    clip_grad_norm,
    cross_entropy_sum,
    enable_activation_checkpointing,
    flops_per_token,
    measure_peak_flops,
    precision_context,
    seed_everything,
)
from codex_models.training.optim import build_optimizer, lr_at, set_lr
from codex_models.training.parallel import (
    Dist,
    full_state_dicts,
    load_full_state_dicts,
    no_sync,
    unwrap,
    wrap_model,
)
from codex_models.training.signals import StopSignals

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from codex_core.config import RunConfig
    from codex_core.runs import RunDir

log = logging.getLogger("codex.train")


class Trainer:
    def __init__(self, config: RunConfig, run: RunDir, dist: Dist, *, resume: str | None = None,
                 restart: bool = False, progress: Any = None) -> None:
        self.config, self.cfg, self.run, self.dist = config, config.trainer, run, dist
        self.resume_from = resume
        self.restart = restart
        self.progress = progress
        self.state = TrainState(rank=dist.rank, world_size=dist.world_size)
        self.metrics: dict[str, float] = {}
        self.stop_reason: str | None = None
        self._signals = StopSignals(announce=dist.is_main)
        self._bad_evals = 0
        self._resumed_step: int | None = None

    # -- 1. setup ------------------------------------------------------------------------
    def setup(self) -> None:
        import torch

        from codex_core.context import BuildContext
        from codex_core.events import TrainEvents
        from codex_core.plugins import get_plugin_manager
        from codex_core.runs import cache_root
        from codex_models.models.placement import resolve_device

        seed_everything(self.config.run.seed, deterministic=self.cfg.deterministic)
        self.device = resolve_device(self.cfg.device if not self.dist.enabled or self.cfg.device != "auto"
                                     else ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", self.dist.local_rank)
        manager = get_plugin_manager()
        self.events = TrainEvents(manager)
        self.context = BuildContext(registry=manager.registry, run_dir=self.run.path, cache_dir=cache_root(),
                                    seed=self.config.run.seed, rank=self.dist.rank,
                                    world_size=self.dist.world_size, device=str(self.device))
        # Rank 0 builds what is cached (a trained tokenizer, the token cache) first; its error is raised on every rank.
        self.tokenizer = self.dist.main_first(lambda: self.context.build("tokenizer", self.config.tokenizer))
        self.context.tokenizer = self.tokenizer
        self.data = self.dist.main_first(self._build_data)

        seed_everything(self.config.run.seed)  # the model's init does not depend on the data pass
        model = self.context.build("model", self.config.model)
        self.base_model = model.to(self.device)
        if self.cfg.activation_checkpointing:
            enable_activation_checkpointing(model)
        self.model = wrap_model(model, self.dist, self.cfg.distributed, self.device)
        if self.cfg.compile:
            self.model = torch.compile(self.model)  # type: ignore[assignment]
        self.optimizer = build_optimizer(model, self.cfg, self.device.type)
        self.autocast, self.scaler = precision_context(self.cfg.precision, self.device)
        self.total_steps = self.cfg.max_steps or (
            self.cfg.max_tokens // self.data.tokens_per_step if self.cfg.max_tokens else None)
        self.flops_per_token = flops_per_token(unwrap(model), self.cfg.seq_len)
        self.peak_flops = self.cfg.peak_flops or (measure_peak_flops(self.device) if self.dist.is_main else 0.0)
        self.eval_metrics = [self.context.build("metric", ref) for ref in self.config.metrics]
        self.eval_tasks = TaskEvaluator(self.config, self.context, self.tokenizer) if self.cfg.eval_tasks else None
        self.loggers = self._build_loggers()
        # Per-rank dropout streams; the checkpoint records them, so a resume continues them.
        torch.manual_seed(self.config.run.seed + self.dist.rank)
        if self.resume_from is not None:
            self.load_checkpoint(Path(self.resume_from))

    def _build_data(self) -> Any:
        from codex_data import open_pipeline
        from codex_models.training.data import TrainData

        source = open_pipeline(self.config, self.tokenizer, self.context, world_size=self.dist.world_size,
                               progress=self.dist.is_main and self.progress is not None)
        return TrainData(source)

    def _build_loggers(self) -> Any:
        from codex_core.fanout import LoggerFanout

        if not self.dist.is_main:
            return LoggerFanout([])
        built, names = [], []
        for i, ref in enumerate(self.config.loggers):
            built.append(self.context.build("logger", ref))
            names.append(ref.name if ref.name not in names else f"{ref.name}#{i}")
        return LoggerFanout(built, names)

    # -- 2. train ------------------------------------------------------------------------
    def train(self) -> str:
        """Run until a limit, a stop request or an error; returns the final status
        (``completed``, ``stopped``) or raises (status ``failed``)."""
        state, dist = self.state, self.dist
        if self.resume_from is not None or self.restart:
            self.loggers.resume(state.step)  # a restart from step 0 drops what the loggers had too
        if self.resume_from is None:
            self.loggers.log_params(self.config.to_dict())
        banner = self.loggers.describe() + self.events.train_start(self.run, self.config, self.base_model, state,
                                                                   self.loggers)
        if dist.is_main:
            print("integrations: " + (" · ".join(banner) if banner else "none (metrics.ndjson only)"),
                  file=sys.stderr, flush=True)
        status = "failed"
        self._signals.install()
        try:
            self._loop()
            status = "stopped" if self.stop_reason else "completed"
        finally:
            self._signals.restore()
            self.events.train_end(self.run, state, status, self.metrics)
        return status

    def _loop(self) -> None:
        cfg, state, dist = self.cfg, self.state, self.dist
        batches = self.data.train_batches(dist.rank, dist.world_size)
        accum = self.data.accum_steps
        started, logged_tokens = time.perf_counter(), state.tokens
        busy = 0.0  # seconds in training steps (batches included; eval and checkpoints not) since the last log
        elapsed_before = state.elapsed_s
        self.model.train()
        while not self._limit_reached():
            step_started = time.perf_counter()
            lr = lr_at(state.step, cfg, self.total_steps)
            set_lr(self.optimizer, lr)
            micro = [next(batches) for _ in range(accum)]
            # Normalise by the targets of the whole global batch (all micro batches, all
            # ranks): gradient accumulation and data parallelism give the same gradient.
            n_targets = dist.all_reduce_sum([float(sum(mb.n_targets for mb in micro))])[0]
            loss_sum = 0.0
            for i, mb in enumerate(micro):
                with no_sync(self.model, cfg.distributed, sync=i == accum - 1):
                    with self.autocast:
                        logits = self._forward(mb)
                        loss = cross_entropy_sum(logits, mb.targets.to(self.device)) / n_targets
                    # DDP/FSDP average gradients over ranks; scale up so the mean is the sum.
                    self.scaler.scale(loss * dist.world_size).backward()
                loss_sum += float(loss.detach())
            failpoint("step")
            self.scaler.unscale_(self.optimizer)
            # Without clipping the norm is only needed for the log: skip the pass over the grads otherwise.
            logging_step = (state.step + 1) % cfg.log_every == 0
            grad_norm = clip_grad_norm(self.model, cfg.grad_clip) if cfg.grad_clip or logging_step else None
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)

            state.step += 1
            state.tokens += int(n_targets)
            state.epoch = self.data.state_dict()["epoch"]
            state.elapsed_s = elapsed_before + time.perf_counter() - started
            train_loss = dist.all_reduce_sum([loss_sum])[0]
            step_metrics = {"train/loss": train_loss, "train/lr": lr}
            if grad_norm is not None:
                step_metrics["train/grad_norm"] = grad_norm
            if not math.isfinite(train_loss):
                raise CodexError(f"the training loss is {train_loss} at step {state.step}",
                                 hint="lower trainer.lr, enable trainer.grad_clip, or use precision fp32")
            busy += time.perf_counter() - step_started
            if state.step % cfg.log_every == 0 or self._limit_reached():
                tokens_per_s = (state.tokens - logged_tokens) / max(busy, 1e-9)
                step_metrics.update({"train/tokens_per_s": tokens_per_s, "train/tokens": float(state.tokens),
                                     "train/elapsed_s": state.elapsed_s, "train/epoch": float(state.epoch)})
                if self.peak_flops:
                    step_metrics["train/mfu"] = (self.flops_per_token * tokens_per_s
                                                 / (self.peak_flops * dist.world_size))
                self._log(step_metrics)
                busy, logged_tokens = 0.0, state.tokens
            self.metrics.update(step_metrics)
            stop = self.events.step_end(self.run, state, step_metrics)

            if state.step % cfg.eval_every == 0 or (self._limit_reached() and (self.data_has_val() or self.eval_tasks)):
                stop |= self.evaluate()
                self.model.train()
            if self.progress is not None and dist.is_main:
                self.progress.update(state, self.metrics, self.total_steps, cfg)
            asked, stop = stop, dist.any(stop or self._signals.received is not None)
            if stop and not self.stop_reason:
                self.stop_reason = self._signals.name or (
                    "a plugin or early stopping asked" if asked else "another process of the run was stopped")
            if state.step % cfg.checkpoint_every == 0 or self._limit_reached() or stop:
                self.save_checkpoint()
            if stop:
                break

    def _forward(self, mb: MicroBatch) -> torch.Tensor:
        ids = mb.input_ids.to(self.device, non_blocking=True)
        mask = mb.attention_mask.to(self.device) if mb.attention_mask is not None else None
        return self.model(input_ids=ids, attention_mask=mask).logits  # type: ignore[no-any-return]

    def _limit_reached(self) -> bool:
        cfg, state = self.cfg, self.state
        return bool((cfg.max_steps is not None and state.step >= cfg.max_steps)
                    or (cfg.max_tokens is not None and state.tokens >= cfg.max_tokens)
                    or (cfg.max_time is not None and state.elapsed_s >= cfg.max_time))

    def data_has_val(self) -> bool:
        return bool(self.data.eval_batches(0, 1, 1))

    def _log(self, metrics: dict[str, float]) -> None:
        if self.dist.is_main:
            self.run.log_metrics(self.state.step, metrics)
            self.loggers.log_metrics(metrics, self.state.step)

    # -- evaluation ----------------------------------------------------------------------
    def evaluate(self) -> bool:
        """Validation loss and perplexity (and the configured metrics on next-token
        predictions) over ``eval_batches``, then ``trainer.eval_tasks``; returns True when
        early stopping says stop."""
        import torch

        batches = self.data.eval_batches(self.dist.rank, self.dist.world_size, self.cfg.eval_batches)
        for metric in self.eval_metrics:
            metric.reset()
        self.model.eval()
        loss_sum, count = 0.0, 0.0
        with torch.no_grad(), self.autocast:
            for mb in batches:
                logits = self._forward(mb)
                targets = mb.targets.to(self.device)
                loss_sum += float(cross_entropy_sum(logits, targets))
                count += mb.n_targets
                failpoint("eval")
                if self.eval_metrics:
                    keep = targets != IGNORE_INDEX
                    predicted, expected = logits.argmax(-1)[keep].tolist(), targets[keep].tolist()
                    for metric in self.eval_metrics:
                        metric.update(predicted, expected)
        loss_sum, count = self.dist.all_reduce_sum([loss_sum, count])
        metrics = {"val/loss": loss_sum / count, "val/perplexity": math.exp(min(loss_sum / count, 50.0))} if count else {}
        for metric in self.eval_metrics if count else ():
            metrics.update({f"val/{k}": float(v) for k, v in metric.compute().items()})
        metrics.update(self.eval_tasks(self.base_model) if self.eval_tasks is not None else {})
        if not metrics:
            return False
        self._log(metrics)
        self.metrics.update(metrics)
        stop = self.events.eval(self.run, self.state, metrics)
        return self._early_stop(metrics) or stop

    def _early_stop(self, metrics: dict[str, float]) -> bool:
        cfg, value = self.cfg, metrics.get(self.cfg.monitor)
        if value is None:
            return False
        better = self.state.best is None or (
            value < self.state.best - (cfg.early_stopping.min_delta if cfg.early_stopping else 0.0)
            if cfg.monitor_mode == "min"
            else value > self.state.best + (cfg.early_stopping.min_delta if cfg.early_stopping else 0.0))
        if better:
            self.state.best, self._bad_evals = value, 0
        else:
            self._bad_evals += 1
        if cfg.early_stopping and self._bad_evals >= cfg.early_stopping.patience:
            self.stop_reason = f"early stopping: {cfg.monitor} did not improve in {self._bad_evals} evaluations"
            return True
        return False

    # -- 3. checkpoints ------------------------------------------------------------------
    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint of the current step (rank 0 writes; every rank takes part in
        gathering the state), then prune old ones. The checkpoint this run resumed from is
        not written again (a stop right after a resume); any other directory of the same
        step (left corrupted or incomplete by an earlier attempt) is replaced."""
        if self.state.step == self._resumed_step:
            return None
        model_state, optim_state = full_state_dicts(self.model, self.optimizer, self.cfg.distributed, self.dist)
        rng_json, rng_tensors = ckpt.capture_rng()
        all_rng = self.dist.all_gather_object((rng_json, rng_tensors))
        path = None
        if self.dist.is_main:
            trainer_state = {"optimizer": optim_state, "scaler": self.scaler.state_dict(),
                             "rng": [tensors for _, tensors in all_rng]}
            meta = {"tokens": self.state.tokens, "epoch": self.state.epoch, "elapsed_s": self.state.elapsed_s,
                    "best": self.state.best, "bad_evals": self._bad_evals, "data": self.data.state_dict(),
                    "metrics": dict(self.metrics), "config_hash": self.config.hash(),
                    "world_size": self.dist.world_size, "global_batch": self.data.global_batch,
                    "monitor": self.cfg.monitor}

            def write_model(directory: Path) -> None:
                self._write_model_dir(directory, model_state)

            info = ckpt.save_checkpoint(self.run.checkpoints_dir, self.state.step, write_model=write_model,
                                        trainer_state=trainer_state,
                                        rng_json={"ranks": [j for j, _ in all_rng]}, meta=meta)
            path = info.path
            ckpt.prune(self.run.checkpoints_dir, keep_last=self.cfg.keep_last, keep_best=self.cfg.keep_best,
                       monitor=self.cfg.monitor, mode=self.cfg.monitor_mode)
            ckpt.record_in_manifest(self.run, self.cfg.monitor, self.cfg.monitor_mode)
            self.events.checkpoint(self.run, self.state, path)
        self.dist.barrier()
        return path

    def _write_model_dir(self, directory: Path, model_state: Any) -> None:
        from codex_models.models.model_dir import save_model_dir

        model = unwrap(self.model)
        model = getattr(model, "_orig_mod", model)  # torch.compile's wrapper
        if self.dist.enabled and self.cfg.distributed == "fsdp":
            model = self._fsdp_template(model_state)
        summary = {"step": self.state.step, "tokens": self.state.tokens,
                   **{k: round(v, 6) for k, v in self.metrics.items() if k in ("train/loss", "val/loss")}}
        save_model_dir(model, self.tokenizer, directory, summary=summary, merge=False)

    def _fsdp_template(self, model_state: Any) -> Any:
        """A plain CPU copy of the model holding the gathered weights (FSDP shards the
        training model, which ``save_pretrained`` cannot write)."""
        if not hasattr(self, "_template"):
            self._template = self.context.build("model", self.config.model)
        self._template.load_state_dict(model_state)
        return self._template

    def load_checkpoint(self, path: Path) -> None:
        """Restore weights, optimizer, scaler, RNGs, data position and counters from a
        verified checkpoint; a checkpoint of another world size or global batch is an error."""
        info = ckpt.read_info(path, verify=True)
        meta = info.meta
        for name, now in (("world_size", self.dist.world_size), ("global_batch", self.data.global_batch)):
            if meta.get(name) != now:
                raise ckpt.CheckpointError(
                    f"checkpoint {path} was written with {name} {meta.get(name)}, this run has {now}",
                    hint="resume with the same number of processes and global batch size")
        weights = ckpt.read_model_weights(path)
        trainer_state = ckpt.load_trainer_state(path)
        model_state = ckpt.match_model_keys(unwrap(self.model), weights)
        load_full_state_dicts(self.model, self.optimizer, model_state, trainer_state["optimizer"],
                              self.cfg.distributed, self.dist)
        self.scaler.load_state_dict(trainer_state["scaler"])
        self.data.load_state_dict(meta["data"])
        rng_json = ckpt.load_rng_json(path)["ranks"]
        rank = self.dist.rank if self.dist.rank < len(rng_json) else 0
        ckpt.restore_rng(rng_json[rank], trainer_state["rng"][rank])
        self.state.step, self.state.tokens, self.state.epoch = info.step, int(meta["tokens"]), int(meta["epoch"])
        self._resumed_step = info.step
        self.state.elapsed_s, self.state.best = float(meta["elapsed_s"]), meta.get("best")
        self._bad_evals = int(meta.get("bad_evals", 0))
        self.metrics = dict(meta.get("metrics", {}))
        if self.dist.is_main:
            dropped = self.run.truncate_metrics(info.step)
            log.info("resumed from %s (step %d); dropped %d metrics rows after it", path, info.step, dropped)

    # -- 4. cleanup ----------------------------------------------------------------------
    def cleanup(self) -> None:
        loggers = getattr(self, "loggers", None)
        if loggers is not None:
            loggers.close()

    @property
    def stop_signal(self) -> int | None:
        """The signal (SIGINT, SIGTERM) that stopped the run, if one did."""
        return self._signals.received
