"""Safety filter scan throughput against references measured in the same run.

The documents of the ``stdlib-code`` dataset (this Python's standard-library source, ~12 MB)
are (a) read: the dataset iterated, each file read from disk and decoded; (b) scanned by one
plain literal-led regex (``re.finditer`` of the AWS access-key-id pattern); (c) filtered by the
built-in safety policy (``Policy.load().apply``: every built-in rule, one combined regex);
(d) filtered by the same rules without a literal start (each alternative behind an
always-true look-ahead, which hides its literal from ``re``: what ``codex_data.safety_rules``
warns against). Each is run ``--repeat`` times, alternating; noise on a shared machine only
ever adds time, so the best run of each is compared.

Printed: MB/s of each; the ratios safety / read and safety / plain regex (the filter's cost
against reading the text and against the cheapest scan of it, on this machine); and
literal-led rules / the same rules without a literal start, the speed-up the literals buy
(target >= 10x: a rule that loses its literal start makes every scan that much slower).

    python bench/safety.py [--mb 0] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

# bench/tokenizers.py would shadow the library: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def best_of(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """The shortest of ``repeat`` alternating runs of each function, in seconds."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=0.0, help="MB of the standard library to use (0: all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from codex_data.safety import Policy, Rule
    from codex_data.stdlib import StdlibCodeDataset

    limit = int(args.mb * 1_000_000) or None
    ids: set[str] = set()
    texts: list[str] = []
    size = 0
    for doc in StdlibCodeDataset():
        texts.append(doc.text)
        ids.add(doc.id)
        size += len(doc.text.encode("utf-8"))
        if limit and size >= limit:
            break

    builtins = Policy.load()
    # The same rules, each alternative behind a look-ahead that always matches: same matches,
    # but ``re`` no longer sees the literal an alternative starts with.
    slow = Policy(
        Rule(r.name, r.action, tuple(rf"(?=[\s\S]){p}" for p in r.patterns), r.replacement, (), r.group, r.left)
        for r in builtins.rules
    )
    plain = re.compile(r"A[KS]IA(?<!\wA[KS]IA)[A-Z0-9]{16}\b")

    def read() -> None:
        for doc in StdlibCodeDataset():
            if doc.id in ids:
                _ = doc.text

    def regex() -> None:
        for text in texts:
            for _ in plain.finditer(text):
                pass

    def safety() -> None:
        for text in texts:
            builtins.apply(text)

    def no_literal() -> None:
        for text in texts:
            slow.apply(text)

    read()  # warm up: the page cache, the compiled regexes
    if [builtins.apply(t) for t in texts] != [slow.apply(t) for t in texts]:
        sys.exit("bench: the rules without a literal start do not filter as the built-in rules do")
    best = best_of({"read": read, "regex": regex, "safety": safety, "no_literal": no_literal}, args.repeat)
    mb = size / 1e6
    result = {
        "documents": len(texts),
        "mb": round(mb, 2),
        **{f"{name}_mb_s": round(mb / s, 1) for name, s in best.items()},
        "ratio_safety_read": round(best["read"] / best["safety"], 2),
        "ratio_safety_regex": round(best["regex"] / best["safety"], 3),
        "ratio_literal_no_literal": round(best["no_literal"] / best["safety"], 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['documents']} standard-library files, {mb:.1f} MB; best of {args.repeat} runs each")
    print(f"read (dataset, from disk):        {result['read_mb_s']} MB/s")
    print(f"one literal-led regex:            {result['regex_mb_s']} MB/s")
    print(f"safety filter (built-in rules):   {result['safety_mb_s']} MB/s")
    print(f"same rules, no literal start:     {result['no_literal_mb_s']} MB/s")
    print(f"ratio safety / read:  {result['ratio_safety_read']}x")
    print(f"ratio safety / regex: {result['ratio_safety_regex']}x")
    print(f"ratio literal-led rules / no literal start: {result['ratio_literal_no_literal']}x (target >= 10)")


if __name__ == "__main__":
    main()
