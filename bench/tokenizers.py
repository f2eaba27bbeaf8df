"""Tokenizer engines: the pure-Python engine against the Rust library, and the adapter's
overhead over the raw library.

* A byte-level BPE (vocab 8000) is trained by the Rust library on ~5 MB of this Python's
  standard-library source.
* It is measured on documents *not* in the training text: the source of other installed
  packages, and English prose (their licence files and package descriptions).
* Before each timing every cache is empty (a freshly loaded tokenizer); offsets are
  computed by both engines, and the ids, tokens and offsets are checked identical.

Printed: per-document ``encode`` throughput of each engine and the ratio
python / rust-single-thread (``RAYON_NUM_THREADS=1``), with a cold cache (first pass) and a
warm one (second pass over the same documents); and ``CodexTokenizer.encode_batch`` against
the raw ``tokenizers.Tokenizer.encode_batch`` (overhead; target <= 5%).

    python bench/tokenizers.py [--train-mb 5] [--eval-mb 2] [--json]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # before tokenizers starts its thread pool
# This file is called tokenizers.py: keep its folder off the path so that
# `import tokenizers` finds the library, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sysconfig  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402


def _texts(paths: list[Path], limit: int) -> list[str]:
    out, size = [], 0
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if text.strip():
            out.append(text)
            size += len(text.encode("utf-8"))
        if size >= limit:
            break
    return out


def corpora(train_mb: float, eval_mb: float) -> tuple[list[str], list[str], list[str]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"test", "tests", "site-packages", "idle_test"}
    train_files = sorted(p for p in stdlib.rglob("*.py") if not skip & set(p.relative_to(stdlib).parts))
    site = Path(sysconfig.get_paths()["purelib"])
    code_files = sorted(p for p in site.rglob("*.py") if "codex" not in str(p))
    prose_files = sorted([*site.glob("*.dist-info/LICENSE*"), *site.glob("*.dist-info/licenses/*"),
                          *site.glob("*.dist-info/METADATA")])
    limit = int(eval_mb * 1_000_000 / 2)
    return _texts(train_files, int(train_mb * 1_000_000)), _texts(code_files, limit), _texts(prose_files, limit)


def time_encode(encode, docs: list[str]) -> tuple[float, list]:
    out = []
    start = time.perf_counter()
    for doc in docs:
        out.append(encode(doc))
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-mb", type=float, default=5.0)
    parser.add_argument("--eval-mb", type=float, default=2.0)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from tokenizers import Tokenizer

    from codex_tokenizers import load, train

    train_texts, code, prose = corpora(args.train_mb, args.eval_mb)
    work = Path(tempfile.mkdtemp(prefix="codex-bench-"))
    path = work / "tokenizer.json"
    train("bpe", vocab_size=args.vocab_size, texts=train_texts, output=path)
    results: dict[str, dict[str, float]] = {}
    for name, docs in (("code", code), ("prose", prose)):
        size_mb = sum(len(d.encode("utf-8")) for d in docs) / 1e6
        rust = Tokenizer.from_file(str(path))  # fresh: empty caches
        python = load(path, backend="python")
        r_cold, r_out = time_encode(rust.encode, docs)
        p_cold, p_out = time_encode(python.encode, docs)
        for r, p in zip(r_out, p_out, strict=True):
            if (r.ids, r.tokens, r.offsets) != (p.ids, p.tokens, p.offsets):
                sys.exit(f"bench: engines disagree on a {name} document")
        r_warm, _ = time_encode(rust.encode, docs)
        p_warm, _ = time_encode(python.encode, docs)
        results[name] = {
            "documents": len(docs), "mb": round(size_mb, 2),
            "rust_mb_s": round(size_mb / r_cold, 2), "python_cold_mb_s": round(size_mb / p_cold, 2),
            "python_warm_mb_s": round(size_mb / p_warm, 2), "rust_warm_mb_s": round(size_mb / r_warm, 2),
            "ratio_cold": round(r_cold / p_cold, 2), "ratio_warm": round(r_warm / p_warm, 2),
        }
    # Adapter overhead: encode_batch through CodexTokenizer vs the raw library, both
    # reading ids, tokens, offsets and attention masks; 15 alternating runs each. Noise
    # on a shared machine only ever adds time, so the best run of each is compared.
    docs = code + prose
    raw = Tokenizer.from_file(str(path))
    adapter = load(path, backend="rust")

    def raw_batch() -> None:
        for e in raw.encode_batch(docs):
            _ = (e.ids, e.tokens, e.offsets, e.attention_mask)

    def adapter_batch() -> None:
        for e in adapter.encode_batch(docs):
            _ = (e.ids, e.tokens, e.offsets, e.attention_mask)

    raw_batch(), adapter_batch()
    raw_t, ada_t = [], []
    for _ in range(15):
        for fn, bucket in ((raw_batch, raw_t), (adapter_batch, ada_t)):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    overhead = min(ada_t) / min(raw_t) - 1
    median_overhead = statistics.median(ada_t) / statistics.median(raw_t) - 1
    results["adapter_encode_batch"] = {"overhead_pct": round(100 * overhead, 1),
                                       "median_overhead_pct": round(100 * median_overhead, 1)}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"byte-level BPE, vocab {args.vocab_size}, trained on {args.train_mb:g} MB of stdlib source; "
          f"RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']}")
    print(f"{'text':<6} {'docs':>5} {'MB':>5} {'rust MB/s':>10} {'python cold':>12} {'python warm':>12} "
          f"{'ratio cold':>11} {'ratio warm':>11}")
    for name in ("code", "prose"):
        r = results[name]
        print(f"{name:<6} {r['documents']:>5} {r['mb']:>5} {r['rust_mb_s']:>10} {r['python_cold_mb_s']:>12} "
              f"{r['python_warm_mb_s']:>12} {r['ratio_cold']:>10}x {r['ratio_warm']:>10}x")
    print("ratio = python speed / rust single-thread speed (target >= 1.0)")
    ada = results["adapter_encode_batch"]
    print(f"adapter encode_batch overhead over raw tokenizers: {ada['overhead_pct']}% best-of-15 "
          f"({ada['median_overhead_pct']}% by medians; target <= 5%)")


if __name__ == "__main__":
    main()
