"""SIGKILL in every phase of a run: the fault driver's 20 kills (every failpoint, then seeded
random offsets), each resumed with ``--resume auto``, must end bit-identical to a run that
never stopped; and the failpoints themselves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from driver import main, run_faults
from fault_jobs import Job, losses

from codex_core.errors import ConfigError
from codex_core.faults import POINTS, parse_failpoints


@pytest.mark.slow
def test_twenty_kills_in_every_phase_end_bit_identical_to_a_run_that_never_stopped(tmp_path, capsys):
    report = run_faults(tmp_path, kills=20, seed=0, log=print)
    print(report.text())

    assert report.error is None, report.text()
    assert len(report.kills) >= 20
    assert set(POINTS) <= set(report.phases()), "every failpoint was hit on purpose"
    assert {"random: start-up", "random: training"} <= set(report.phases())
    assert all(kill.survived for kill in report.kills), report.text()
    assert report.identical_weights and report.identical_losses and report.tokenizer_identical
    assert report.losses_compared == report.steps and report.ok


def test_failpoint_specs_are_parsed_and_a_misspelt_one_is_an_error():
    assert parse_failpoints("step:3, eval:1") == {"step": 3, "eval": 1}
    assert parse_failpoints("") == {}
    with pytest.raises(ConfigError, match="unknown failpoint 'stpe'"):
        parse_failpoints("stpe:3")
    for bad in ("step", "step:0", "step:x"):
        with pytest.raises(ConfigError, match="needs a count of at least 1"):
            parse_failpoints(bad)


@pytest.mark.slow
def test_a_failpoint_kills_the_process_at_its_nth_visit_and_a_misspelt_one_fails_at_start(tmp_path):
    job = Job.create(tmp_path, steps=6)

    code, err = job.train("bad", env={"CODEX_FAILPOINT": "chekpoint-marker:1"})
    assert code == 2 and "unknown failpoint 'chekpoint-marker'" in err and "Traceback" not in err
    assert not (job.runs / "bad").exists(), "checked before the run directory is made"

    process = job.start("third-step", env={"CODEX_FAILPOINT": "step:3"})
    _, err = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL and "failpoint step:3: killing this process" in err
    assert [step for step, _ in losses(job.runs / "third-step")] == [1, 2], "killed inside step 3"


@pytest.mark.slow
def test_the_driver_runs_as_a_script_with_a_json_report(tmp_path):
    """``python tests/faults/driver.py --kills N --json`` (for longer runs than CI's); here one kill."""
    script = os.path.join(os.path.dirname(__file__), "driver.py")
    done = subprocess.run([sys.executable, script, "--kills", "1", "--steps", "8", "--dir", str(tmp_path), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["total"] == 1 and report["phases"] == {"tokenizer-cache": {"survived": 1, "total": 1}}


def test_the_driver_refuses_fewer_than_one_kill(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--kills", "0"])
    assert exc.value.code == 2 and "--kills must be at least 1" in capsys.readouterr().err
