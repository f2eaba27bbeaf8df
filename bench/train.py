"""Training throughput of the codex engine against a bare PyTorch loop (and Hugging Face's
``Trainer``), and resume start-up time at two data positions.

The job: GPT-2 built from config (4 layers, 4 heads, width 256, context 256) over a
byte-level BPE of vocab 8000 trained on ~5 MB of this Python's standard-library source,
which is also the training data (a codex token cache, built once); batch 8 x 256, fused
AdamW lr 3e-4 constant (betas 0.9/0.95), dropout 0, weight decay 0, no clipping, 2 threads;
3 warm-up steps then 30 timed steps, data loading included.

* **reference**: ``bench/_train_reference.py``, a bare loop that imports nothing from
  codex. It memory-maps the cache's shards and cuts and orders windows as the documented
  data feed does, so its losses and codex's are the same.
* **codex**: the real engine, ``codex_models.training.run.run_training`` with a config (no
  loggers, no system metrics, no evaluation or checkpoint before the last step). Steps are
  timed by a ``codex_on_step_end`` hook registered in the worker process.
* **hf**: ``transformers.Trainer`` on the same windows in the same order
  (``adamw_torch_fused``, constant schedule, ``max_grad_norm 0``, loss type ``ForCausalLM``
  with the targets passed as ``shift_labels``, so the loss is the same sum / count).
* **compile**: codex with ``trainer.compile=true``; its first steps compile, so it gets
  more warm-up steps (``--compile-warmup``, default 5) before the same 30 timed steps.

Every run is a fresh process; the kinds alternate round by round and each is reported as
the median over the rounds; ratios are tokens/s divided by the reference's median measured
in the same invocation. Then resume start-up: a small model is trained to two very
different steps (data positions) and resumed from each (alternating, median): the time
from ``run_training`` to the first step, and to the ``train_start`` hook.

    python bench/train.py [--rounds 3] [--steps 30] [--quick] [--skip hf,compile,resume] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/tokenizers.py would shadow the library: keep this folder off the import path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

SEED = 1337
JOB = {"n_layer": 4, "n_head": 4, "n_embd": 256, "n_positions": 256, "seq_len": 256, "micro_batch": 8,
       "lr": 3e-4, "betas": [0.9, 0.95], "eps": 1e-8, "threads": 2, "seed": SEED}
KINDS = ("reference", "codex", "hf", "compile")


# -- the corpus, tokenizer, config and token cache (once) ---------------------------------
def copy_corpus(target: Path, limit: int) -> list[str]:
    """The same stdlib corpus bench/data.py uses (its ``copy_corpus``, loaded by path:
    bench/ is not on sys.path)."""
    loader = importlib.util.spec_from_file_location("_bench_data", HERE / "data.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    texts, _ = module.copy_corpus(target, limit)
    return list(texts)


def write_config(path: Path, work: Path, *, n_layer: int, n_head: int, n_embd: int, n_positions: int,
                 seq_len: int, micro_batch: int, log_every: int = 100_000) -> Path:
    import yaml

    config = {
        "run": {"seed": SEED, "runs_dir": str(work / "runs")},
        "tokenizer": {"name": "tokenizer-json", "params": {"path": str(work / "tokenizer.json")}},
        "data": {"name": "text", "params": {"paths": [str(work / "corpus")]},
                 "split": {"train": 0.98, "val": 0.01, "test": 0.01}},
        "model": {"name": "gpt2", "params": {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd,
                                             "n_positions": n_positions}},
        "loggers": [],
        "metrics": [],
        "trainer": {"seq_len": seq_len, "micro_batch_size": micro_batch, "lr": JOB["lr"], "min_lr": JOB["lr"],
                    "schedule": "constant", "warmup_steps": 0, "weight_decay": 0.0, "betas": JOB["betas"],
                    "eps": JOB["eps"], "grad_clip": None, "device": "cpu", "log_every": log_every,
                    "eval_every": 100_000, "eval_batches": 1, "checkpoint_every": 100_000},
        "telemetry": {"system_metrics": False},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prepare(work: Path, mb: float) -> dict[str, Any]:
    """Corpus, tokenizer, configs, and the token cache (built by a one-step codex run)."""
    from codex_tokenizers import load, train

    texts = copy_corpus(work / "corpus", int(mb * 1_000_000))
    train("bpe", vocab_size=8000, texts=texts, output=work / "tokenizer.json")
    tokenizer = load(work / "tokenizer.json")
    special = tokenizer.special_tokens
    job = {**JOB, "vocab_size": tokenizer.vocab_size, "pad_id": special.get("pad"), "bos_id": special.get("bos"),
           "eos_id": special.get("eos"), "mb": round(sum(len(t.encode()) for t in texts) / 1e6, 2)}
    config = write_config(work / "job.yaml", work, **{k: JOB[k] for k in (
        "n_layer", "n_head", "n_embd", "n_positions", "seq_len", "micro_batch")})
    run_worker("codex", {**job, "config": str(config), "name": "prepare", "steps": 1}, work)
    manifest = json.loads((work / "runs" / "prepare" / "manifest.json").read_text())
    cache_dir = manifest["data"]["token_cache"]
    job.update(config=str(config), cache_dir=cache_dir, train_tokens=manifest["data"]["train_tokens"])
    return job


# -- workers: one fresh process per measured run ------------------------------------------
def run_worker(kind: str, spec: dict[str, Any], work: Path) -> dict[str, Any]:
    spec_path = work / f"spec-{kind}-{time.monotonic_ns()}.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "CODEX_HOME": str(work / "home"), "CODEX_RUNS_DIR": str(work / "runs"),
           "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
    if kind == "reference":
        cmd = [sys.executable, str(HERE / "_train_reference.py"), str(spec_path)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, str(spec_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} run failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


class _Clock:
    """A codex plugin object: the time of the start of training and of each step end."""

    def __init__(self) -> None:
        self.train_start: float | None = None
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.losses: list[float] = []
        self.threads = 0

    def hooks(self) -> Any:
        from codex_core import hookimpl

        clock = self

        class Plugin:
            @hookimpl
            def codex_on_train_start(self) -> None:
                import torch

                clock.train_start = time.perf_counter()
                clock.threads = torch.get_num_threads()

            @hookimpl
            def codex_on_step_end(self, metrics: Any) -> None:
                clock.times.append(time.perf_counter())
                clock.cpu.append(time.process_time())
                clock.losses.append(float(metrics["train/loss"]))

        return Plugin()


def codex_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from codex_core.config import load_config
    from codex_core.plugins import get_plugin_manager
    from codex_models.training.run import run_training

    torch.set_num_threads(spec["threads"])
    clock = _Clock()
    get_plugin_manager().register(clock.hooks(), name="bench-clock")
    overrides = [f"run.name={spec['name']}", f"trainer.max_steps={spec['steps']}",
                 f"trainer.compile={'true' if spec.get('compile') else 'false'}", *spec.get("overrides", [])]
    config = load_config(spec["config"], overrides).config
    called = time.perf_counter()
    result = run_training(config, resume=spec.get("resume"))
    if result.status != "completed":
        raise SystemExit(f"codex run ended {result.status}")
    return {"start": called, "train_start": clock.train_start, "times": clock.times, "cpu": clock.cpu,
            "losses": clock.losses, "threads": clock.threads}


def hf_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import torch
    from torch.utils.data import IterableDataset
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

    loader = importlib.util.spec_from_file_location("_train_reference", HERE / "_train_reference.py")
    assert loader is not None and loader.loader is not None
    reference = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(reference)

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=spec["vocab_size"], n_positions=spec["n_positions"], n_layer=spec["n_layer"],
        n_head=spec["n_head"], n_embd=spec["n_embd"], resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        pad_token_id=spec["pad_id"], bos_token_id=spec["bos_id"], eos_token_id=spec["eos_id"]))
    model.loss_type = "ForCausalLM"

    class Windows(IterableDataset):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            tokens = reference.train_tokens(Path(spec["cache_dir"]))
            for batch in reference.batches(tokens, spec["seq_len"], spec["micro_batch"], spec["seed"]):
                for row in torch.from_numpy(batch):
                    yield {"input_ids": row[:-1], "labels": row[1:], "shift_labels": row[1:]}

    times: list[float] = []
    cpu: list[float] = []
    losses: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            times.append(time.perf_counter())
            cpu.append(time.process_time())

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    args = TrainingArguments(
        output_dir=str(Path(spec["work"]) / "hf-out"), max_steps=spec["steps"],
        per_device_train_batch_size=spec["micro_batch"], learning_rate=spec["lr"], lr_scheduler_type="constant",
        warmup_steps=0, weight_decay=0.0, adam_beta1=spec["betas"][0], adam_beta2=spec["betas"][1],
        adam_epsilon=spec["eps"], max_grad_norm=0.0, optim="adamw_torch_fused", logging_steps=1, report_to="none",
        save_strategy="no", use_cpu=True, dataloader_num_workers=0, disable_tqdm=True, seed=spec["seed"],
        remove_unused_columns=False)  # keep shift_labels: the targets are already shifted
    trainer = Trainer(model=model, args=args, train_dataset=Windows(), callbacks=[Clock()])
    start = time.perf_counter()
    trainer.train()
    return {"start": start, "times": times, "cpu": cpu, "losses": losses, "threads": torch.get_num_threads()}


# -- measuring ----------------------------------------------------------------------------
def tokens_per_s(result: dict[str, Any], warmup: int, tokens_per_step: int, clock: str = "times") -> float:
    """Tokens per second over the steps after ``warmup`` (``clock``: ``times`` for
    wall-clock seconds, ``cpu`` for the process's CPU seconds)."""
    times = result[clock]
    timed = len(times) - warmup
    return timed * tokens_per_step / (times[-1] - times[warmup - 1])


def throughput(job: dict[str, Any], work: Path, args: argparse.Namespace, kinds: list[str]) -> dict[str, Any]:
    tokens_per_step = job["seq_len"] * job["micro_batch"]
    warmups = {kind: args.compile_warmup if kind == "compile" else args.warmup for kind in kinds}
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpu_rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    losses: dict[str, list[float]] = {}
    for r in range(args.rounds):
        for kind in kinds:
            steps = warmups[kind] + args.steps
            spec = {**job, "work": str(work), "steps": steps, "name": f"{kind}-{r}", "compile": kind == "compile"}
            result = run_worker("hf" if kind == "hf" else "reference" if kind == "reference" else "codex", spec, work)
            rates[kind].append(tokens_per_s(result, warmups[kind], tokens_per_step))
            cpu_rates[kind].append(tokens_per_s(result, warmups[kind], tokens_per_step, "cpu"))
            losses.setdefault(kind, result["losses"])
            shutil.rmtree(work / "runs" / spec["name"], ignore_errors=True)
            _say(f"  round {r + 1}/{args.rounds} {kind:9s} {rates[kind][-1]:8.0f} tokens/s, "
                 f"{cpu_rates[kind][-1]:8.0f} tokens per CPU-second (load {os.getloadavg()[0]:.1f})")
    median = {kind: statistics.median(v) for kind, v in rates.items()}
    cpu_median = {kind: statistics.median(v) for kind, v in cpu_rates.items()}
    out: dict[str, Any] = {"tokens_per_s": {k: round(v, 1) for k, v in median.items()},
                           "runs": {k: [round(x, 1) for x in v] for k, v in rates.items()},
                           "ratio": {k: round(median[k] / median["reference"], 3) for k in kinds if k != "reference"},
                           "tokens_per_cpu_s": {k: round(v, 1) for k, v in cpu_median.items()},
                           "cpu_ratio": {k: round(cpu_median[k] / cpu_median["reference"], 3)
                                         for k in kinds if k != "reference"},
                           "warmup_steps": warmups, "timed_steps": args.steps, "losses": losses}
    n = min(len(v) for v in losses.values())
    same = [k for k in kinds if k != "reference"
            and all(f"{a:.4f}" == f"{b:.4f}" for a, b in zip(losses[k][:n], losses["reference"][:n], strict=True))]
    out["same_losses_4dp"] = {k: k in same for k in kinds if k != "reference"}
    return out


def resume_startup(job: dict[str, Any], work: Path, positions: list[int], rounds: int) -> dict[str, Any]:
    """Train a small model to each position (its checkpoint), then resume from each, alternating."""
    config = write_config(work / "resume.yaml", work, n_layer=1, n_head=2, n_embd=32, n_positions=8, seq_len=8,
                          micro_batch=2, log_every=100)
    base = {**job, "config": str(config)}
    checkpoints = {}
    for pos in positions:
        started = time.perf_counter()
        run_worker("codex", {**base, "name": f"pos-{pos}", "steps": pos}, work)
        checkpoints[pos] = work / "runs" / f"pos-{pos}" / "checkpoints" / f"step-{pos:08d}"
        if not (checkpoints[pos] / "checkpoint.json").is_file():
            raise SystemExit(f"no checkpoint at {checkpoints[pos]}")
        _say(f"  trained the resume model to step {pos} ({time.perf_counter() - started:.0f} s)")
    to_first: dict[int, list[float]] = {pos: [] for pos in positions}
    to_start: dict[int, list[float]] = {pos: [] for pos in positions}
    for _ in range(rounds):
        for pos in positions:
            result = run_worker("codex", {**base, "name": f"pos-{pos}", "steps": pos + 1,
                                          "resume": str(checkpoints[pos])}, work)
            to_start[pos].append(result["train_start"] - result["start"])
            to_first[pos].append(result["times"][0] - result["start"])
    return {"positions": positions, "seq_len": 8, "micro_batch": 2,
            "to_train_start_s": {pos: round(statistics.median(v), 3) for pos, v in to_start.items()},
            "to_first_step_s": {pos: round(statistics.median(v), 3) for pos, v in to_first.items()}}


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each kind (median)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--compile-warmup", type=int, default=5, help="untimed steps first with compile")
    parser.add_argument("--mb", type=float, default=5.0, help="MB of stdlib source (tokenizer and data)")
    parser.add_argument("--positions", default="10,10000", help="resume positions (steps)")
    parser.add_argument("--skip", default="", help="comma-separated: hf, compile, resume")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round, 2+4 steps, 1 MB, positions 5,200")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("spec", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(Path(args.spec).read_text())
        result = hf_worker(spec) if args.worker == "hf" else codex_worker(spec)
        print(json.dumps(result))
        return
    if args.quick:
        args.rounds, args.steps, args.warmup, args.compile_warmup, args.mb = 1, 4, 2, 3, 1.0
        args.positions = "5,200"
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    kinds = [k for k in KINDS if k not in skip]
    positions = [int(p) for p in args.positions.split(",")]

    work = Path(tempfile.mkdtemp(prefix="codex-bench-train-"))
    try:
        _say(f"preparing: tokenizer and token cache from {args.mb} MB of stdlib source")
        job = prepare(work, args.mb)
        _say(f"throughput: {args.rounds} round(s) of {', '.join(kinds)}")
        result: dict[str, Any] = {"job": {k: job[k] for k in (*JOB, "vocab_size", "mb", "train_tokens")},
                                  "throughput": throughput(job, work, args, kinds)}
        if "resume" not in skip:
            _say(f"resume start-up at steps {positions}")
            result["resume"] = resume_startup(job, work, positions, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    report(result)


def report(result: dict[str, Any]) -> None:
    job, tp = result["job"], result["throughput"]
    print(f"GPT-2 {job['n_layer']}L {job['n_head']}H {job['n_embd']}d, vocab {job['vocab_size']} BPE, "
          f"{job['mb']} MB stdlib ({job['train_tokens']} train tokens); batch {job['micro_batch']}x{job['seq_len']}, "
          f"{job['threads']} threads; {tp['timed_steps']} timed steps, median of {len(tp['runs']['reference'])}")
    targets = {"codex": "target >= 0.97", "compile": "stretch >= 1.10", "hf": ""}
    for kind, rate in tp["tokens_per_s"].items():
        ratio = "" if kind == "reference" else f"  ratio {tp['ratio'][kind]:.3f}  {targets[kind]}"
        runs = ", ".join(f"{x:.0f}" for x in tp["runs"][kind])
        print(f"{kind:9s} {rate:8.0f} tokens/s  (runs {runs}; {tp['warmup_steps'][kind]} warm-up){ratio}")
    print("per CPU-second (less sensitive to other load on the machine): " + ", ".join(
        f"{k} {v:.0f}" + (f" ({tp['cpu_ratio'][k]:.3f})" if k != "reference" else "")
        for k, v in tp["tokens_per_cpu_s"].items()))
    kinds = list(tp["losses"])
    print("losses of the first steps: " + "  ".join(f"{k:>9s}" for k in kinds))
    for i in range(min(6, *(len(v) for v in tp["losses"].values()))):
        print(f"  step {i + 1:2d}                  " + "  ".join(f"{tp['losses'][k][i]:9.4f}" for k in kinds))
    print("same losses to 4 decimals as the reference: "
          + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in tp["same_losses_4dp"].items()))
    if "resume" in result:
        res = result["resume"]
        for pos in res["positions"]:
            print(f"resume at step {pos:6d}: {res['to_train_start_s'][pos]:.2f} s to train start, "
                  f"{res['to_first_step_s'][pos]:.2f} s to the first step")


if __name__ == "__main__":
    main()
