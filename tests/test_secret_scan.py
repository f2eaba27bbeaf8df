"""Secret scanning is a gate: the command ``tox -e lint`` runs (read from tox.ini, so the test
and the gate cannot drift apart) passes on a copy of the tracked files, and fails naming the
file once a fake AWS access key and secret access key are planted in a new tracked file."""

from __future__ import annotations

import configparser
import random
import shlex
import shutil
import string
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def gate_command() -> list[str]:
    """The detect-secrets line of tox.ini's ``[testenv:lint]`` commands, as argv."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini", encoding="utf-8")
    lines = [line for line in tox["testenv:lint"]["commands"].splitlines() if "detect-secrets-hook" in line]
    assert len(lines) == 1, lines
    return shlex.split(lines[0])


def tracked_copy(target: Path) -> Path:
    """The files git tracks in this checkout, copied into ``target`` and tracked there too."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode("utf-8").split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git(target, "init", "-q")
    git(target, "add", "-A", "--force")  # every copied file is a tracked one, ignored or not
    return target


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True)


def fake_aws_credentials() -> str:
    """An access key id (``AKIA`` + 16) and a 40-character secret access key, made up here so
    that no key appears in this file (the gate scans it too)."""
    rng = random.Random(15)
    key_id = "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    secret = "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))
    return f'AWS_ACCESS_KEY_ID = "{key_id}"\naws_secret_access_key = "{secret}"\n'


def test_the_secret_scan_passes_on_the_tracked_files_and_fails_on_a_planted_key(tmp_path: Path) -> None:
    assert shutil.which("detect-secrets-hook"), "detect-secrets is not installed (see constraints.txt)"
    command = gate_command()
    clean, planted = tracked_copy(tmp_path / "clean"), tracked_copy(tmp_path / "planted")
    leak = planted / "packages" / "codex-core" / "src" / "codex_core" / "deploy_settings.py"
    leak.write_text(fake_aws_credentials(), encoding="utf-8")
    git(planted, "add", str(leak))

    # The two scans side by side (each is one process): the test takes about one scan's time.
    scans = [subprocess.Popen(command, cwd=copy, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for copy in (clean, planted)]
    (passed, passed_code), (failed, failed_code) = [(scan.communicate(timeout=600)[0], scan.returncode)
                                                    for scan in scans]

    assert passed_code == 0, passed
    assert failed_code != 0 and "AWS Access Key" in failed, failed
    assert "packages/codex-core/src/codex_core/deploy_settings.py" in failed, failed
