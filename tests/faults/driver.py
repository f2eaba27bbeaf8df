"""The fault driver: train a job while killing it again and again, and prove that it ends
exactly as a run that never stopped.

It trains the job of :mod:`fault_jobs` once without interruption (its own cache folder),
then trains it again as one run, with a fresh cache folder, SIGKILLing the ``codex train``
process ``--kills`` times and resuming it with ``--resume auto`` after each kill:

* first through every failpoint (``CODEX_FAILPOINT``, :mod:`codex_core.faults`), so every
  phase is hit on purpose: training the tokenizer, writing each token-cache shard, start-up,
  mid step, mid evaluation, each file of a checkpoint, its marker, its commit;
* then at seeded random offsets, from the process's start (imports, set-up) or from its
  first new training step.

After every kill it checks what is on disk: every ``step-*`` checkpoint verifies (sha256 of
each file and of the marker), every token cache verifies, every cached tokenizer is complete
JSON; the next process must resume without an error. At the end the run's final weights must
be bit-identical to the uninterrupted run's and every logged ``train/loss`` identical, each
step logged once. The report gives survived/total per phase::

    python tests/faults/driver.py --kills 100 --seed 3      # a longer run than CI's
    python tests/faults/driver.py --kills 20 --json         # what tests/faults/test_kills.py runs

Exit status 0 when every kill was survived and the end is identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

try:
    import fault_jobs
except ImportError:  # run as a script: the helpers are next to it
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fault_jobs

STEP_S = 0.025
"""About how long a step of the job takes on 2 cores: random kills in training land within ~12 steps."""


@dataclass
class Kill:
    phase: str  # the failpoint, or "random: start-up" / "random: training"
    how: str  # "CODEX_FAILPOINT=step:2" or "SIGKILL 0.83 s after the start"
    survived: bool = False
    detail: str = ""


@dataclass
class Report:
    kills: list[Kill] = field(default_factory=list)
    steps: int = 0
    identical_weights: bool = False
    identical_losses: bool = False
    losses_compared: int = 0
    tokenizer_identical: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (self.error is None and bool(self.kills) and all(k.survived for k in self.kills)
                and self.identical_weights and self.identical_losses and self.tokenizer_identical)

    def phases(self) -> dict[str, tuple[int, int]]:
        """phase -> (survived, total), in the order the phases were first hit."""
        total: Counter[str] = Counter(k.phase for k in self.kills)
        survived: Counter[str] = Counter(k.phase for k in self.kills if k.survived)
        return {phase: (survived[phase], total[phase]) for phase in dict.fromkeys(k.phase for k in self.kills)}

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "steps": self.steps, "kills": [asdict(k) for k in self.kills],
                "phases": {p: {"survived": s, "total": t} for p, (s, t) in self.phases().items()},
                "survived": sum(k.survived for k in self.kills), "total": len(self.kills),
                "identical_weights": self.identical_weights, "identical_losses": self.identical_losses,
                "losses_compared": self.losses_compared, "tokenizer_identical": self.tokenizer_identical,
                "error": self.error}

    def text(self) -> str:
        lines = [f"fault driver: {len(self.kills)} kills of a {self.steps}-step run", f"{'phase':<26} survived/total"]
        lines += [f"{phase:<26} {s}/{t}" for phase, (s, t) in self.phases().items()]
        lines.append(f"{'all':<26} {sum(k.survived for k in self.kills)}/{len(self.kills)}")
        lines.append(f"end: weights bit-identical {'yes' if self.identical_weights else 'NO'}; train/loss "
                     f"{'identical' if self.identical_losses else 'DIFFERENT'} at {self.losses_compared} steps; "
                     f"tokenizer {'identical' if self.tokenizer_identical else 'DIFFERENT'}")
        lines += [f"not survived: {k.how}: {k.detail}" for k in self.kills if not k.survived]
        if self.error:
            lines.append(f"error: {self.error}")
        return "\n".join(lines)


def failpoint_plan(checkpoint_files: int) -> list[str]:
    """Every failpoint at least once, in an order each can be reached: the caches are built
    by the first processes only; a checkpoint has ``checkpoint_files`` files besides its marker."""
    return ["tokenizer-cache:1", "token-cache-shard:1", "token-cache-shard:2", "startup:1", "step:2", "eval:1",
            "checkpoint-file:1", f"checkpoint-file:{max(2, checkpoint_files // 2)}",
            f"checkpoint-file:{checkpoint_files}", "checkpoint-marker:1", "checkpoint-commit:1", "checkpoint-marker:2"]


def run_faults(root: Path, *, kills: int = 20, seed: int = 0, steps: int | None = None,
               log: Any = None) -> Report:
    """Drive the job under ``root`` (made if missing) through ``kills`` kills; the report."""
    say = log or (lambda line: None)
    steps = steps or max(80, 4 * kills)
    job = fault_jobs.Job.create(root / "job", steps=steps)
    report = Report(steps=steps)
    straight_job = job.with_home(root / "home-straight")
    started = time.monotonic()
    code, err = straight_job.train("straight")
    if code != 0:
        report.error = f"the uninterrupted run failed ({code}): {err.strip().splitlines()[-1:]}"
        return report
    straight = job.runs / "straight"
    startup_s = _first_row_time(straight) - started
    marker_files = len([p for p in fault_jobs.final_checkpoint(straight).rglob("*") if p.is_file()]) - 1
    say(f"uninterrupted run: {steps} steps, first step after {startup_s:.1f} s")

    chain = job.with_home(root / "home-chain")
    run = job.runs / "chain"
    rng = random.Random(seed)
    plan = failpoint_plan(marker_files)
    while len(report.kills) < kills:
        index = len(report.kills)
        if index < len(plan):
            kill = _failpoint_kill(chain, plan[index])
        else:
            from_start = index % 2 == 0
            offset = rng.uniform(0.3, startup_s) if from_start else rng.uniform(0.0, 12 * STEP_S)
            kill = _random_kill(chain, run, offset, from_start)
            if kill is None:  # the run ended before the kill: nothing left to interrupt
                report.error = f"the run completed after {index} kills; give it more steps"
                break
        if kill.survived:
            problem = _check_disk(run, chain.home)
            kill.survived, kill.detail = problem is None, problem or kill.detail
        report.kills.append(kill)
        say(f"kill {index + 1}: {kill.phase:<22} {kill.how}: {'ok' if kill.survived else kill.detail}")
        if not kill.survived:
            report.error = f"kill {index + 1} ({kill.how}) was not survived: {kill.detail}"
            return report

    code, err = chain.train("chain", "--resume", "auto")
    if code != 0:
        report.error = f"the last resume failed ({code}): {err.strip().splitlines()[-1:]}"
        for kill in report.kills:
            kill.survived = False
        return report
    mine, theirs = fault_jobs.losses(run), fault_jobs.losses(straight)
    report.losses_compared = len(mine)
    report.identical_losses = mine == theirs and [s for s, _ in mine] == list(range(1, steps + 1))
    report.identical_weights = fault_jobs.same_weights(fault_jobs.final_checkpoint(run),
                                                       fault_jobs.final_checkpoint(straight))
    fingerprints = [json.loads((r / "manifest.json").read_text())["tokenizer"]["fingerprint"] for r in (run, straight)]
    report.tokenizer_identical = fingerprints[0] == fingerprints[1]
    left = [p.name for folder in (run / "checkpoints", chain.home / "token-caches") for p in folder.glob(".*.tmp-*")]
    if left:
        report.error = f"temporaries of killed writers were left behind: {', '.join(sorted(left))}"
    return report


def _failpoint_kill(job: fault_jobs.Job, point: str) -> Kill:
    name = point.partition(":")[0]
    kill = Kill(phase=name, how=f"CODEX_FAILPOINT={point}")
    code, err = job.train("chain", "--resume", "auto", env={"CODEX_FAILPOINT": point}, killed=True)
    if code != -signal.SIGKILL or f"failpoint {point}: killing" not in err:
        kill.detail = f"not killed at the failpoint (exit {code}): {_last_line(err)}"
        return kill
    kill.survived = True
    return kill


def _random_kill(job: fault_jobs.Job, run: Path, offset: float, from_start: bool) -> Kill | None:
    started = time.time()
    process = job.start("chain", "--resume", "auto", killed=True)
    if not from_start:
        deadline = time.monotonic() + 240
        while not any(row["time"] >= started for row in fault_jobs.rows(run)):
            if process.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.005)
    time.sleep(offset)
    if process.poll() is not None:
        _, err = process.communicate()
        if process.returncode == 0:
            return None
        return Kill(phase="random", how=f"SIGKILL {offset:.2f} s in", detail=f"exit {process.returncode}: "
                    f"{_last_line(err)}")
    trained = any(row["time"] >= started for row in fault_jobs.rows(run))
    process.send_signal(signal.SIGKILL)
    _, err = process.communicate(timeout=60)
    where = "after its first step" if not from_start else "after the start"
    kill = Kill(phase="random: training" if trained else "random: start-up",
                how=f"SIGKILL {offset:.2f} s {where}")
    if process.returncode != -signal.SIGKILL:
        kill.detail = f"exit {process.returncode} before the kill: {_last_line(err)}"
        return kill
    kill.survived = True
    return kill


def _check_disk(run: Path, home: Path) -> str | None:
    """What a kill must never leave: a checkpoint, token cache or cached tokenizer under its
    final name that is not complete and intact. None when all is well, else what is wrong."""
    from codex_core.checkpoints import CheckpointError, read_checkpoint
    from codex_core.errors import CodexError
    from codex_data import load_cache

    for path in sorted((run / "checkpoints").glob("step-*")):
        try:
            read_checkpoint(path, verify=True)
        except CheckpointError as exc:
            return f"a checkpoint under its final name is not intact: {exc}"
    for path in sorted((home / "token-caches").glob("[!.]*")):
        try:
            load_cache(path, verify=True)
        except CodexError as exc:
            return f"a token cache under its final name is not intact: {exc}"
    for path in sorted((home / "tokenizers").glob("*.json")):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            return f"cached tokenizer {path.name} is not complete JSON: {exc}"
    manifest = run / "manifest.json"
    if manifest.exists():
        try:
            json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError as exc:
            return f"the run's manifest is not complete JSON: {exc}"
    return None


def _first_row_time(run: Path) -> float:
    """The monotonic-clock time of the run's first metrics row (rows hold wall-clock times)."""
    rows = fault_jobs.rows(run)
    return time.monotonic() - (time.time() - rows[0]["time"]) if rows else time.monotonic()


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="how many times to kill the run (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random offsets (default 0)")
    parser.add_argument("--steps", type=int, help="steps of the run (default: max(80, 4 x kills))")
    parser.add_argument("--dir", type=Path, help="work folder, kept (default: a temporary one, removed)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    root = args.dir or Path(tempfile.mkdtemp(prefix="codex-faults-"))
    try:
        report = run_faults(root, kills=args.kills, seed=args.seed, steps=args.steps,
                            log=None if args.json else lambda line: print(line, flush=True))
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
