"""Evaluation throughput: ``HFLanguageModel.rolling_nll`` (what the ``perplexity`` task runs)
against a bare transformers forward loop on the same tokens, and batched generation
against batch size 1.

The job: GPT-2 built from config (4 layers, 4 heads, width 256, context 256; random weights,
no hub) with a byte-level BPE of vocab 8000 trained on ~1 MB of this Python's standard-library
source; 2 threads.

* **eval**: documents of other standard-library files (``--eval-tokens`` tokens in all), each
  ``[eos] + its tokens``, scored in windows of 256 tokens every 128 (the task's defaults),
  8 windows a forward. The **reference** is the loop of transformers' perplexity guide
  with the same windows batched the same way: ``model(input_ids, labels=...)`` with the
  labels of already-scored tokens set to -100, loss times the count of scored tokens. Both
  must give the same total nll (checked). Printed: scored tokens/s of each and the ratio
  codex / reference (goal >= 0.9).
* **generation**: ``--prompts`` prompts (the first lines of standard-library files, of
  different lengths), ``--new-tokens`` greedy tokens each (random weights: no row meets an
  eos), through ``HFLanguageModel.generate`` with ``batch_size`` = the number of prompts and
  with ``batch_size=1``. Printed: new tokens/s of each, the ratio, and whether the greedy
  texts are identical.

Each is run ``--repeat`` times, alternating; noise on a shared machine only ever adds
time, so the best run of each is compared.

    python bench/eval.py [--eval-tokens 30000] [--prompts 16] [--new-tokens 64] [--repeat 3]
                               [--device cpu] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# bench/tokenizers.py would shadow the library: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
SEED = 1337
MODEL = {"n_layer": 4, "n_head": 4, "n_embd": 256, "n_positions": 256}
MAX_LENGTH, STRIDE, BATCH = 256, 128, 8


def best_of(runs: dict[str, Callable[[], object]], repeat: int) -> tuple[dict[str, float], dict[str, object]]:
    """The shortest of ``repeat`` alternating runs of each function (seconds), and each's
    last result."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, object] = {}
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}, results


def stdlib_texts() -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"test", "tests", "site-packages", "idle_test"}
    texts = []
    for path in sorted(p for p in stdlib.rglob("*.py") if not skip & set(p.relative_to(stdlib).parts)):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if text.strip():
            texts.append(text)
    return texts


def reference_nll(model: Any, documents: list[list[int]], device: Any) -> tuple[float, int]:
    """transformers' perplexity-guide loop, windows batched ``BATCH`` at a time by length."""
    import torch

    windows: list[tuple[list[int], list[int]]] = []
    for ids in documents:
        previous_end = 0
        for begin in range(0, len(ids), STRIDE):
            end = min(begin + MAX_LENGTH, len(ids))
            labels = list(ids[begin:end])
            keep = end - previous_end
            labels[:len(labels) - keep] = [-100] * (len(labels) - keep)
            windows.append((ids[begin:end], labels))
            previous_end = end
            if end == len(ids):
                break
    windows.sort(key=lambda w: -len(w[0]))
    total, count = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(windows), BATCH):
            batch = windows[start:start + BATCH]
            width = len(batch[0][0])
            inputs = torch.zeros((len(batch), width), dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            for r, (ids, lab) in enumerate(batch):
                inputs[r, :len(ids)] = torch.tensor(ids)
                labels[r, :len(lab)] = torch.tensor(lab)
            n = int((labels[:, 1:] != -100).sum())
            loss = model(input_ids=inputs.to(device), labels=labels.to(device), use_cache=False).loss
            total += float(loss) * n
            count += n
    return total, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-mb", type=float, default=1.0, help="MB of stdlib source the BPE is trained on")
    parser.add_argument("--eval-tokens", type=int, default=30_000)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu (the 2-thread job), cuda, ...")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from codex_models import GPT2Params, build_gpt2
    from codex_models.evaluation.lm import HFLanguageModel
    from codex_tokenizers.training import train

    torch.set_num_threads(2)
    texts = stdlib_texts()
    budget, n_train = int(args.train_mb * 1_000_000), 0
    while n_train < len(texts) and budget > 0:
        budget -= len(texts[n_train].encode("utf-8"))
        n_train += 1
    tokenizer = train("bpe", vocab_size=8000, texts=texts[:n_train])
    eos = tokenizer.special_tokens["eos"]
    torch.manual_seed(SEED)
    device = torch.device(args.device)
    model = build_gpt2(GPT2Params(**MODEL, dropout=0.0, vocab_size=tokenizer.vocab_size)).eval().to(device)

    documents: list[list[int]] = []
    total = 0
    for text in texts[n_train:]:
        if total >= args.eval_tokens:
            break
        ids = [eos, *tokenizer.encode(text).ids][:args.eval_tokens - total + 1]
        documents.append(ids)
        total += len(ids) - 1
    lm = HFLanguageModel(model, tokenizer, batch_size=BATCH)

    best, results = best_of({
        "codex": lambda: lm.rolling_nll(documents, max_length=MAX_LENGTH, stride=STRIDE),
        "reference": lambda: reference_nll(model, documents, device),
    }, args.repeat)
    codex = results["codex"]
    assert isinstance(codex, list)
    ours = (math.fsum(nll for nll, _ in codex), sum(n for _, n in codex))
    theirs = results["reference"]
    assert isinstance(theirs, tuple)
    if ours[1] != theirs[1] or not math.isclose(ours[0], theirs[0], rel_tol=1e-4):
        sys.exit(f"bench: codex and the reference disagree: {ours} vs {theirs}")

    prompts = ["\n".join(text.splitlines()[:2 + i % 5]) for i, text in enumerate(texts[n_train:n_train
                                                                                              + args.prompts])]
    one = HFLanguageModel(model, tokenizer, batch_size=1)
    many = HFLanguageModel(model, tokenizer, batch_size=len(prompts))
    gen_best, gen = best_of({
        "batched": lambda: many.generate(prompts, max_new_tokens=args.new_tokens),
        "single": lambda: one.generate(prompts, max_new_tokens=args.new_tokens),
    }, args.repeat)
    new_tokens = len(prompts) * args.new_tokens

    result = {
        "eval": {"documents": len(documents), "tokens": ours[1],
                 "codex_tokens_s": round(ours[1] / best["codex"]),
                 "reference_tokens_s": round(ours[1] / best["reference"]),
                 "ratio": round(best["reference"] / best["codex"], 3)},
        "generation": {"prompts": len(prompts), "new_tokens": new_tokens,
                       "batched_tokens_s": round(new_tokens / gen_best["batched"]),
                       "single_tokens_s": round(new_tokens / gen_best["single"]),
                       "ratio": round(gen_best["single"] / gen_best["batched"], 2),
                       "identical": gen["batched"] == gen["single"]},
        "threads": torch.get_num_threads(),
        "device": str(device),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    e, g = result["eval"], result["generation"]
    print(f"GPT-2 {MODEL} vocab {tokenizer.vocab_size}, {result['device']}, {result['threads']} threads; "
          f"best of {args.repeat} runs each")
    print(f"eval: {e['documents']} documents, {e['tokens']} tokens scored (windows {MAX_LENGTH}/{STRIDE}, "
          f"batch {BATCH})")
    print(f"  codex rolling_nll:          {e['codex_tokens_s']} tokens/s")
    print(f"  bare transformers loop:     {e['reference_tokens_s']} tokens/s")
    print(f"  ratio codex / reference:    {e['ratio']}x (goal >= 0.9)")
    print(f"generation: {g['prompts']} prompts x {args.new_tokens} greedy tokens")
    label = f"batch size {g['prompts']}:"
    print(f"  {label:<28}{g['batched_tokens_s']} tokens/s")
    print(f"  batch size 1:               {g['single_tokens_s']} tokens/s")
    print(f"  ratio batched / batch of 1: {g['ratio']}x; greedy texts identical: {g['identical']}")


if __name__ == "__main__":
    main()
