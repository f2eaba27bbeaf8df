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
Also (e) the built-ins without the two checked rules (``keyword-secret``, ``high-entropy``):
what those two cost.

``--false-positives``: what the checked rules redact in the standard library instead, where
there are no real secrets: per rule the files, matches and lines changed (and the share of
all lines: the default job's corpus must not be shredded, target < 0.1%), then each changed
line before and after (``--show N`` of them per rule), to judge by eye.

    python bench/safety.py [--mb 0] [--repeat 3] [--json]
    python bench/safety.py --false-positives [--show 20] [--json]
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


CHECKED = ("keyword-secret", "high-entropy")


def false_positives(documents: list[tuple[str, str]], show: int) -> dict[str, object]:
    """Files, matches and changed lines of each checked rule alone over ``documents``."""
    from codex_data.safety import Policy

    lines = sum(len(text.splitlines()) for _, text in documents)
    result: dict[str, object] = {"files": len(documents), "lines": lines}
    for name in CHECKED:
        policy = Policy.from_dict({"builtin": [name]})
        files = matches = changed = 0
        samples: list[dict[str, str]] = []
        for doc_id, text in documents:
            filtered = policy.apply(text)
            if not filtered.counts:
                continue
            files += 1
            matches += filtered.counts[name]
            for before, after in zip(text.splitlines(), filtered.text.splitlines(), strict=True):
                if before != after:
                    changed += 1
                    if len(samples) < show:
                        samples.append({"file": doc_id, "before": before.strip()[:160], "after": after.strip()[:160]})
        result[name] = {"files": files, "matches": matches, "lines_changed": changed,
                        "lines_changed_pct": round(100 * changed / lines, 4), "samples": samples}
    return result


def print_false_positives(found: dict[str, object]) -> None:
    print(f"{found['files']} standard-library files, {found['lines']} lines")
    for name in CHECKED:
        row = found[name]
        assert isinstance(row, dict)
        print(f"{name}: {row['files']} files, {row['matches']} matches, {row['lines_changed']} lines changed "
              f"({row['lines_changed_pct']}% of lines; target < 0.1%)")
        for sample in row["samples"]:
            print(f"  {sample['file']}: {sample['before']}\n  {' ' * len(sample['file'])}  -> {sample['after']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=0.0, help="MB of the standard library to use (0: all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--false-positives", action="store_true",
                        help="what the checked rules redact in the standard library (not speed)")
    parser.add_argument("--show", type=int, default=20, help="changed lines shown per rule (--false-positives)")
    args = parser.parse_args()

    from codex_data.safety import Policy, Rule
    from codex_data.stdlib import StdlibCodeDataset

    limit = int(args.mb * 1_000_000) or None
    ids: set[str] = set()
    texts: list[str] = []
    documents: list[tuple[str, str]] = []
    size = 0
    for doc in StdlibCodeDataset():
        texts.append(doc.text)
        ids.add(doc.id)
        documents.append((doc.id, doc.text))
        size += len(doc.text.encode("utf-8"))
        if limit and size >= limit:
            break
    if args.false_positives:
        found = false_positives(documents, args.show)
        print(json.dumps(found, indent=2)) if args.json else print_false_positives(found)
        return

    builtins = Policy.load()
    # The same rules, each alternative behind a look-ahead that always matches: same matches,
    # but ``re`` no longer sees the literal an alternative starts with.
    slow = Policy(
        Rule(r.name, r.action, tuple(rf"(?=[\s\S]){p}" for p in r.patterns), r.replacement, (), r.group, r.left,
             check=r.check, params=r.params)
        for r in builtins.rules
    )
    unchecked = Policy.from_dict({"builtin": [r.name for r in builtins.rules if r.name not in CHECKED]})
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

    def without_checked() -> None:
        for text in texts:
            unchecked.apply(text)

    read()  # warm up: the page cache, the compiled regexes
    if [builtins.apply(t) for t in texts] != [slow.apply(t) for t in texts]:
        sys.exit("bench: the rules without a literal start do not filter as the built-in rules do")
    best = best_of({"read": read, "regex": regex, "safety": safety, "no_literal": no_literal,
                    "without_checked": without_checked}, args.repeat)
    mb = size / 1e6
    result = {
        "documents": len(texts),
        "mb": round(mb, 2),
        **{f"{name}_mb_s": round(mb / s, 1) for name, s in best.items()},
        "ratio_safety_read": round(best["read"] / best["safety"], 2),
        "ratio_safety_regex": round(best["regex"] / best["safety"], 3),
        "ratio_literal_no_literal": round(best["no_literal"] / best["safety"], 1),
        "ratio_checked_cost": round(best["safety"] / best["without_checked"], 2),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['documents']} standard-library files, {mb:.1f} MB; best of {args.repeat} runs each")
    print(f"read (dataset, from disk):        {result['read_mb_s']} MB/s")
    print(f"one literal-led regex:            {result['regex_mb_s']} MB/s")
    print(f"safety filter (built-in rules):   {result['safety_mb_s']} MB/s")
    print(f"same rules, no literal start:     {result['no_literal_mb_s']} MB/s")
    print(f"built-ins without checked rules:  {result['without_checked_mb_s']} MB/s")
    print(f"ratio safety / read:  {result['ratio_safety_read']}x")
    print(f"ratio safety / regex: {result['ratio_safety_regex']}x")
    print(f"ratio literal-led rules / no literal start: {result['ratio_literal_no_literal']}x (target >= 10)")
    print(f"time with / without keyword-secret and high-entropy: {result['ratio_checked_cost']}x")


if __name__ == "__main__":
    main()
