"""The training loop, run in-process on a tiny GPT-2 over synthetic text: exactness, limits,
early stopping, hooks, gradient accumulation, precision, out-of-memory and resume."""

from __future__ import annotations

import csv
import json
import logging
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from codex_core import hookimpl
from codex_core.checkpoints import seal_marker
from codex_models.training import checkpoint as ckpt
from codex_models.training.run import run_training

torch = pytest.importorskip("torch")


def checkpoints(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").iterdir())


class Recorder:
    """Records every training event; asks to stop at ``stop_at``; raises ``error`` at ``raise_at``."""

    def __init__(self, stop_at: int | None = None, raise_at: int | None = None, error: Exception | None = None):
        self.stop_at, self.raise_at, self.error = stop_at, raise_at, error
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def codex_on_train_start(self, run, config, model, state, loggers):
        self.events.append(("start", [type(x).__name__ for x in loggers.loggers]))

    @hookimpl
    def codex_on_step_end(self, run, state, metrics):
        self.events.append(("step", state.step))
        if state.step == self.raise_at:
            raise self.error  # type: ignore[misc]
        return state.step == self.stop_at

    @hookimpl
    def codex_on_eval(self, run, state, metrics):
        self.events.append(("eval", (state.step, sorted(metrics))))

    @hookimpl
    def codex_on_checkpoint(self, run, state, path):
        self.events.append(("checkpoint", (state.step, path.name, (path / ckpt.MARKER).is_file())))

    @hookimpl
    def codex_on_train_end(self, run, state, status, metrics):
        self.events.append(("end", status))

    def of(self, kind: str) -> list[Any]:
        return [value for name, value in self.events if name == kind]


def test_the_same_config_and_seed_twice_give_bit_identical_losses_and_weights(train_config, runs_io):
    first = run_training(train_config(run__name="a")[1], progress=False)
    second = run_training(train_config(run__name="b")[1], progress=False)

    assert [s for s, _ in runs_io.loss_curve(first.run)] == [1, 2, 3, 4, 5, 6]
    assert runs_io.loss_curve(first.run) == runs_io.loss_curve(second.run)
    assert runs_io.same_weights(first.run / "checkpoints/step-00000006", second.run / "checkpoints/step-00000006")


def test_another_seed_gives_other_weights(train_config, runs_io):
    first = run_training(train_config(run__name="a", trainer__max_steps=1)[1], progress=False)
    second = run_training(train_config(run__name="b", trainer__max_steps=1, run__seed=8)[1], progress=False)

    assert not runs_io.same_weights(first.run / "checkpoints/step-00000001",
                                    second.run / "checkpoints/step-00000001")


def test_gradient_accumulation_gives_the_loss_curve_of_one_bigger_micro_batch(train_config, runs_io):
    whole = run_training(train_config(run__name="whole", trainer__micro_batch_size=4)[1], progress=False)
    accumulated = run_training(train_config(run__name="accum", trainer__micro_batch_size=2,
                                            trainer__global_batch_size=4)[1], progress=False)

    a, b = runs_io.loss_curve(whole.run), runs_io.loss_curve(accumulated.run)
    assert [s for s, _ in a] == [s for s, _ in b]
    assert max(abs(x - y) for (_, x), (_, y) in zip(a, b, strict=True)) < 1e-6


@pytest.mark.parametrize(("limits", "steps"), [
    ({"trainer__max_steps": 4}, 4),
    ({"trainer__max_steps": None, "trainer__max_tokens": 3 * 4 * 32}, 3),  # 3 steps of 4 windows of 32
    ({"trainer__max_steps": 1000, "trainer__max_time": 0.001}, 1),
])
def test_each_limit_ends_the_run(train_config, limits, steps):
    result = run_training(train_config(run__name="lim", **limits)[1], progress=False)

    assert (result.status, result.step) == ("completed", steps)
    assert f"step-{steps:08d}" in checkpoints(result.run)


def test_early_stopping_on_the_monitored_metric(train_config):
    # The validation loss falls, so with mode max it never improves after the first evaluation.
    config = train_config(run__name="es", trainer__max_steps=20, trainer__eval_every=1, trainer__monitor_mode="max",
                          trainer__early_stopping={"patience": 2})[1]

    result = run_training(config, progress=False)

    manifest = json.loads((result.run / "manifest.json").read_text())
    assert (result.status, result.step) == ("stopped", 3)
    assert "early stopping" in manifest["stop_reason"] and manifest["status"] == "stopped"
    assert "step-00000003" in checkpoints(result.run)


def test_training_events_fire_and_a_step_end_hook_stops_the_run_with_a_checkpoint(train_config, add_plugin):
    recorder = Recorder(stop_at=4)
    add_plugin(recorder)

    result = run_training(train_config(run__name="hooks", trainer__max_steps=10)[1], progress=False)

    assert (result.status, result.step) == ("stopped", 4)
    assert recorder.of("start") == [["CSVLogger"]]
    assert recorder.of("step") == [1, 2, 3, 4]
    assert recorder.of("eval")[0] == (3, ["val/loss", "val/perplexity"])
    assert recorder.of("checkpoint") == [(3, "step-00000003", True), (4, "step-00000004", True)]
    assert recorder.of("end") == ["stopped"] and recorder.events[-1] == ("end", "stopped")


def test_out_of_memory_is_one_line_and_exit_2(train_config, add_plugin, codex_cli):
    add_plugin(Recorder(raise_at=5, error=torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")))
    path, _ = train_config(run__name="oom")

    code, _, err = codex_cli("train", "-c", str(path), "--json")

    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err
    assert "out of memory at step 5" in errors[0]
    assert "micro_batch_size" in errors[0] and "activation_checkpointing" in errors[0]


def test_out_of_memory_keeps_the_checkpoint_and_marks_the_run_failed(train_config, add_plugin, tmp_path):
    from codex_core.errors import CodexError

    recorder = Recorder(raise_at=5, error=torch.OutOfMemoryError("out of memory"))
    add_plugin(recorder)

    with pytest.raises(CodexError, match="out of memory at step 5"):
        run_training(train_config(run__name="oom")[1], progress=False)

    run = tmp_path / "runs" / "oom"
    assert recorder.of("end") == ["failed"]
    assert ckpt.latest_checkpoint(run / "checkpoints").step == 3
    assert json.loads((run / "manifest.json").read_text())["status"] == "failed"


def test_pruning_happens_only_after_the_new_checkpoint_is_complete(train_config, monkeypatch, tmp_path):
    import codex_models.models.model_dir as model_dir

    real, calls = model_dir.save_model_dir, []

    def dies_the_second_time(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(model_dir, "save_model_dir", dies_the_second_time)

    with pytest.raises(OSError, match="disk full"):
        run_training(train_config(run__name="keep", trainer__keep_last=1, trainer__keep_best=0)[1], progress=False)

    assert ckpt.latest_checkpoint(tmp_path / "runs/keep/checkpoints").step == 3


def test_a_checkpoint_holds_weights_optimizer_rng_data_position_and_loads_with_weights_only(train_config):
    result = run_training(train_config(run__name="ck", trainer__max_steps=3)[1], progress=False)
    path = result.run / "checkpoints/step-00000003"

    state = torch.load(path / ckpt.TRAINER_STATE, weights_only=True)
    meta = ckpt.read_info(path).meta

    assert set(state) >= {"optimizer", "scaler", "rng"} and state["optimizer"]["state"]
    assert meta["data"]["index"] == 3 and meta["tokens"] == 3 * 4 * 32 and meta["global_batch"] == 4
    assert set(json.loads((path / ckpt.RNG_STATE).read_text())["ranks"][0]) == {"python", "numpy"}
    assert (path / "model.safetensors").is_file() and (path / "config.json").is_file()


def test_a_resumed_run_drops_later_rows_and_matches_one_that_never_stopped(train_config, add_plugin, runs_io):
    straight = run_training(train_config(run__name="straight")[1], progress=False)
    stopper = Recorder(stop_at=5)  # checkpoints at 3 and 5; rows up to 5
    add_plugin(stopper)
    _, config = train_config(run__name="resumed")
    first = run_training(config, progress=False)
    shutil.rmtree(first.run / "checkpoints/step-00000005")  # as if killed after logging steps 4 and 5
    stopper.stop_at = None

    resumed = run_training(config, resume="auto", progress=False)

    steps = [r["step"] for r in runs_io.metrics_rows(resumed.run) if "train/loss" in r["metrics"]]
    with open(resumed.run / "metrics.csv", newline="") as handle:
        csv_steps = [int(row["step"]) for row in csv.DictReader(handle) if row["train/loss"]]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert runs_io.loss_curve(resumed.run) == runs_io.loss_curve(straight.run)
    assert runs_io.same_weights(resumed.run / "checkpoints/step-00000006",
                                straight.run / "checkpoints/step-00000006")
    assert csv_steps == [1, 2, 3, 4, 5, 6]


def test_resume_auto_without_a_checkpoint_restarts_and_the_loggers_drop_the_old_rows(train_config, add_plugin, runs_io):
    stopper = Recorder(stop_at=2)
    add_plugin(stopper)
    _, config = train_config(run__name="restart", trainer__checkpoint_every=100)
    first = run_training(config, progress=False)
    shutil.rmtree(first.run / "checkpoints/step-00000002")  # killed before any checkpoint was complete
    stopper.stop_at = None

    again = run_training(config, resume="auto", progress=False)

    with open(again.run / "metrics.csv", newline="") as handle:
        csv_steps = [int(row["step"]) for row in csv.DictReader(handle) if row["train/loss"]]
    steps = [r["step"] for r in runs_io.metrics_rows(again.run) if "train/loss" in r["metrics"]]
    assert (steps, csv_steps) == ([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6])


def test_resuming_with_another_global_batch_is_a_clear_error(train_config):
    first = run_training(train_config(run__name="gb", trainer__max_steps=3)[1], progress=False)

    with pytest.raises(ckpt.CheckpointError, match="global_batch 4, this run has 8"):
        run_training(train_config(run__name="gb", trainer__max_steps=6, trainer__micro_batch_size=8)[1],
                     resume="auto", progress=False)
    assert first.status == "completed"


def test_resuming_a_checkpoint_of_another_world_size_is_a_clear_error(train_config):
    first = run_training(train_config(run__name="ws", trainer__max_steps=3)[1], progress=False)
    marker = first.run / "checkpoints/step-00000003" / ckpt.MARKER
    # As torchrun --nproc 2 wrote it (sealed again: an edit without the seal is a corrupted marker).
    marker.write_text(json.dumps(seal_marker({**json.loads(marker.read_text()), "world_size": 2})))

    with pytest.raises(ckpt.CheckpointError, match="world_size 2, this run has 1"):
        run_training(train_config(run__name="ws", trainer__max_steps=3)[1], resume="auto", progress=False)


class ForwardProbe:
    """At train start, records how the model is run: whether activation checkpointing is on,
    the autocast state and the logits' dtype in each training forward, and how often the first
    block's first layer runs in training (twice a step when backward recomputes it)."""

    def __init__(self) -> None:
        self.checkpointing: bool | None = None
        self.autocast: list[tuple[bool, Any]] = []
        self.logits: list[Any] = []
        self.first_layer_runs = 0

    @hookimpl
    def codex_on_train_start(self, run, config, model, state, loggers):
        self.checkpointing = (model.is_activation_checkpointing if hasattr(model, "activation_checkpointing_enable")
                              else model.is_gradient_checkpointing)  # transformers' names before and after 5.x
        model.register_forward_pre_hook(self.before_forward)
        model.register_forward_hook(self.after_forward)
        model.transformer.h[0].ln_1.register_forward_pre_hook(self.first_layer)

    def before_forward(self, module, args):
        if module.training:
            self.autocast.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))

    def after_forward(self, module, args, output):
        if module.training:
            self.logits.append(output.logits.dtype)

    def first_layer(self, module, args):
        if module.training and torch.is_grad_enabled():
            self.first_layer_runs += 1


@pytest.mark.parametrize("options", [{"trainer__activation_checkpointing": True}, {"trainer__precision": "bf16"}])
def test_activation_checkpointing_and_bf16_train_on_cpu(train_config, options, add_plugin):
    probe = ForwardProbe()
    add_plugin(probe)
    checkpointing = options.get("trainer__activation_checkpointing", False)
    bf16 = options.get("trainer__precision") == "bf16"

    result = run_training(train_config(run__name="opt", trainer__max_steps=2, **options)[1], progress=False)

    assert result.status == "completed" and math.isfinite(result.metrics["train/loss"])
    assert probe.checkpointing is checkpointing
    assert probe.first_layer_runs == (2 if checkpointing else 1) * 2  # recomputed in backward, 2 steps
    assert probe.autocast == [(True, torch.bfloat16) if bf16 else (False, torch.get_autocast_dtype("cpu"))] * 2
    assert probe.logits == [torch.bfloat16 if bf16 else torch.float32] * 2


def test_sft_with_lora_on_a_local_hugging_face_model(train_config, tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    from codex_tokenizers.training import train as train_tokenizer

    records = [{"prompt": f"add {i} and {i + 1}", "completion": f"{i} + {i + 1} = {2 * i + 1}"} for i in range(24)]
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    tokenizer = train_tokenizer("bpe", vocab_size=300, texts=[f"{r['prompt']} {r['completion']}" for r in records] * 5)
    model_dir = tmp_path / "hf"
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=64,
                               vocab_size=tokenizer.vocab_size)).save_pretrained(model_dir)
    tokenizer.save(model_dir)
    tree = {
        "run": {"seed": 1, "name": "sft"},
        "tokenizer": {"name": "tokenizer-json", "params": {"path": str(model_dir)}},
        "data": {"name": "sft-jsonl", "params": {"paths": [str(data)]}, "split": {"train": 0.8, "val": 0.2, "test": 0}},
        "model": {"name": "hf-local", "params": {"path": str(model_dir), "lora": {"r": 4}}},
        "trainer": {"max_steps": 4, "seq_len": 48, "micro_batch_size": 4, "warmup_steps": 1, "lr": 1e-2,
                    "min_lr": 1e-3, "eval_every": 4, "checkpoint_every": 4, "peak_flops": 1e12, "log_every": 1},
        "telemetry": {"system_metrics": False},
    }

    result = run_training(train_config(tree=tree)[1], progress=False)

    last = result.run / "checkpoints/step-00000004"
    assert result.status == "completed" and math.isfinite(result.metrics["val/loss"])
    assert (last / "adapter" / "adapter_model.safetensors").is_file()
    base = GPT2LMHeadModel.from_pretrained(model_dir)
    assert torch.equal(runs_io_weights(last)["transformer.h.0.attn.c_attn.weight"],
                       base.state_dict()["transformer.h.0.attn.c_attn.weight"]), "LoRA leaves the base frozen"


def runs_io_weights(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_a_run_directory_in_use_by_another_run_is_refused_and_left_alone(train_config):
    from codex_core.errors import CodexError
    from codex_core.runs import RunDir

    first = run_training(train_config(run__name="busy", trainer__max_steps=3)[1], progress=False)
    holder = RunDir(first.run).lock()  # as a second `codex train` of this run would hold it
    before = (first.run / "metrics.ndjson").read_text()
    try:
        with pytest.raises(CodexError, match="in use by another process"):
            run_training(train_config(run__name="busy", trainer__max_steps=6)[1], resume="auto", progress=False)
    finally:
        holder.unlock()
    assert (first.run / "metrics.ndjson").read_text() == before


def test_resuming_with_a_changed_config_says_what_changed_and_keeps_the_earlier_config(train_config, caplog):
    first = run_training(train_config(run__name="changed", trainer__max_steps=3)[1], progress=False)
    earlier = (first.run / "config.yaml").read_text(encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="codex"):
        run_training(train_config(run__name="changed", trainer__max_steps=3)[1], resume="auto", progress=False)
    assert "changed config" not in caplog.text and not list(first.run.glob("config.until-*"))

    with caplog.at_level(logging.WARNING, logger="codex"):
        resumed = run_training(train_config(run__name="changed", trainer__max_steps=5, trainer__lr=3e-3)[1],
                               resume="auto", progress=False)

    assert resumed.status == "completed" and resumed.step == 5
    assert "resuming with a changed config: trainer.lr: 0.001 -> 0.003, trainer.max_steps: 3 -> 5" in caplog.text
    assert (first.run / "config.until-step-00000003.yaml").read_text(encoding="utf-8") == earlier
    assert "max_steps: 5" in (first.run / "config.yaml").read_text(encoding="utf-8")
