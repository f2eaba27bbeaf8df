"""Start-up cost of the codex CLI against a bare entry-point scan.

Runs, alternating in one process so machine noise hits all alike:

* reference: ``python -c "import importlib.metadata as m; m.entry_points(group='codex')"``
* ``codex plugins list``
* ``codex --help``

and prints each command's median wall time and its ratio to the reference
(target: at most 2.0x, stretch 1.5x).

    python bench/cli_startup.py [--runs 31] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Byte-code caching on, as in any installed package: the warm-up run writes the .pyc
# files, so no timed run pays for compiling codex's sources.
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "CODEX_LOAD_PLUGINS")}


def codex_executable() -> str:
    beside = Path(sys.executable).with_name("codex")
    found = str(beside) if beside.exists() else shutil.which("codex")
    if not found:
        sys.exit("bench: the codex command is not installed in this environment")
    return found


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=31, help="runs of each command (default 31)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()

    codex = codex_executable()
    commands = {
        "reference": [sys.executable, "-c",
                      "import importlib.metadata as m; m.entry_points(group='codex')"],
        "codex plugins list": [codex, "plugins", "list"],
        "codex --help": [codex, "--help"],
    }
    for argv in commands.values():  # warm the file cache and byte-code
        timed(argv)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            samples[name].append(timed(argv))
    medians = {name: statistics.median(s) for name, s in samples.items()}
    ref = medians["reference"]
    result = {name: {"median_ms": round(m * 1000, 1), "ratio": round(m / ref, 2)} for name, m in medians.items()}
    if args.json:
        print(json.dumps({"runs": args.runs, "results": result}, indent=2))
        return
    print(f"{'command':<22} {'median':>9} {'ratio':>6}   ({args.runs} alternating runs)")
    for name, r in result.items():
        print(f"{name:<22} {r['median_ms']:>7.1f}ms {r['ratio']:>5.2f}x")


if __name__ == "__main__":
    main()
