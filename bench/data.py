"""``codex data prepare`` throughput against the raw tokenizers library.

The same ~5 MB of this Python's standard-library source is (a) prepared into a token
cache by codex-data — reading files, the default safety filters ON (built-in rules),
content-hash split and dedup, batch encoding through the codex tokenizer adapter, writing
shards and the manifest — and (b) encoded by the raw ``tokenizers`` library's
``encode_batch`` alone. Printed: MB/s of raw text for each, and the ratio (target >= 0.8).

    python bench/data.py [--mb 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

# bench/tokenizers.py would shadow the library: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def copy_corpus(target: Path, limit: int) -> tuple[list[str], int]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"test", "tests", "site-packages", "idle_test"}
    texts, size = [], 0
    for path in sorted(stdlib.rglob("*.py")):
        if skip & set(path.relative_to(stdlib).parts):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        rel = target / path.relative_to(stdlib)
        rel.parent.mkdir(parents=True, exist_ok=True)
        rel.write_text(text, encoding="utf-8")
        texts.append(text)
        size += len(text.encode("utf-8"))
        if size >= limit:
            break
    return texts, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0, help="MB of source to prepare")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from tokenizers import Tokenizer

    from codex_core.context import BuildContext
    from codex_core.plugins import get_plugin_manager
    from codex_data.prepare import prepare
    from codex_data.safety import Policy
    from codex_tokenizers import load, train

    work = Path(tempfile.mkdtemp(prefix="codex-bench-data-"))
    try:
        texts, size = copy_corpus(work / "corpus", int(args.mb * 1_000_000))
        tok_path = work / "tokenizer.json"
        train("bpe", vocab_size=8000, texts=texts, output=tok_path)
        registry = get_plugin_manager().registry
        dataset = BuildContext(registry=registry).build("dataset", "text", {"paths": [str(work / "corpus")]})
        tokenizer = load(tok_path, backend="rust")
        raw = Tokenizer.from_file(str(tok_path))
        raw.encode_batch(texts[:20])  # start the library's thread pool outside the timing

        start = time.perf_counter()
        raw.encode_batch(texts)
        raw_s = time.perf_counter() - start
        start = time.perf_counter()
        cache = prepare(dataset, tokenizer, work / "cache", dataset_name="text", ratios=None, seed=0,
                        policy=Policy.load())
        prep_s = time.perf_counter() - start
        assert cache.built
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mb = size / 1e6
    result = {"mb": round(mb, 2), "raw_encode_batch_mb_s": round(mb / raw_s, 2),
              "prepare_mb_s": round(mb / prep_s, 2), "ratio": round(raw_s / prep_s, 2), "filters": "built-in, on"}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{mb:.1f} MB of stdlib source; safety filters on (built-in rules)")
    print(f"raw tokenizers encode_batch: {result['raw_encode_batch_mb_s']} MB/s")
    print(f"codex data prepare:          {result['prepare_mb_s']} MB/s")
    print(f"ratio prepare / raw: {result['ratio']}x (target >= 0.8)")


if __name__ == "__main__":
    main()
