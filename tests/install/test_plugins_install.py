"""``codex plugins install`` and ``uninstall`` for real, in the full venv: the example plugin's
wheel goes in marked and comes out again, plugins that need another torch or codex-core are
refused with nothing changed, and codex's own packages are never touched. The venv is left as
it was found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from install_env import write_wheel

pytestmark = pytest.mark.slow

NO_INDEX = {"PIP_NO_INDEX": "1"}  # only what the tests give pip (and what the venv has)


def freeze(venv) -> list[str]:
    done = venv.run(venv.python, "-m", "pip", "freeze", "--all")
    assert done.returncode == 0, done.stderr
    return sorted(done.stdout.splitlines())


def pinned_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.lower().startswith(("codex-", "codex_", "torch"))]


def plugin_wheel(folder: Path, name: str, requires: str) -> Path:
    """A codex plugin wheel whose only dependency is ``requires``."""
    return write_wheel(folder, name, "0.1.0", requires=(requires,), plugin=name)


def test_the_example_plugin_installs_marked_and_uninstalls_leaving_codex_and_torch_alone(full_venv, dist_dir):
    wheel = dist_dir / "codex_word_f1-0.1.0-py3-none-any.whl"
    record = full_venv.path / "share" / "codex" / "installed-plugins.json"
    assert not record.parent.exists(), "the venv came with a record of codex plugins install"
    before = freeze(full_venv)
    try:
        installed = full_venv.codex("plugins", "install", wheel, env=NO_INDEX)
        assert (installed.returncode, installed.stdout) == (0, "installed codex-word-f1 0.1.0 (plugin word-f1)\n"), \
            installed.stderr
        during = freeze(full_venv)
        listed = {p["name"]: p for p in json.loads(full_venv.codex("plugins", "list", "--json").stdout)}
        table = full_venv.codex("plugins", "list").stdout.splitlines()
        refused = full_venv.codex("plugins", "uninstall", "codex-core", "-y")
        removed = full_venv.codex("plugins", "uninstall", "codex-word-f1", "-y")
        after = freeze(full_venv)
        listed_after = {p["name"] for p in json.loads(full_venv.codex("plugins", "list", "--json").stdout)}
    finally:
        full_venv.run(full_venv.python, "-m", "pip", "uninstall", "-y", "codex-word-f1")
        recorded = json.loads(record.read_text()) if record.exists() else None
        shutil.rmtree(record.parent, ignore_errors=True)

    word_f1 = listed["word-f1"]
    assert (word_f1["status"], word_f1["installed_by"]) == ("ok", "codex plugins install")
    assert {p["installed_by"] for name, p in listed.items() if name != "word-f1"} == {None}
    assert table[0].split()[:6] == ["NAME", "DISTRIBUTION", "VERSION", "STATUS", "INSTALLED", "BY"]
    assert next(r for r in table if r.startswith("word-f1 ")).split()[:5] == [
        "word-f1", "codex-word-f1", "0.1.0", "ok", "codex"]
    added = [line for line in during if line.startswith("codex-word-f1 ")]
    assert len(added) == 1 and sorted(set(during) - set(before)) == added and set(before) <= set(during)
    assert pinned_lines(before) and pinned_lines([line for line in during if line not in added]) == \
        pinned_lines(before)
    assert (refused.returncode, len(refused.stderr.splitlines())) == (2, 1), refused.stderr
    assert refused.stderr.startswith("error: refusing to uninstall codex-core: ")
    assert (removed.returncode, removed.stdout) == (0, "uninstalled codex-word-f1 0.1.0\n"), removed.stderr
    assert "word-f1" not in listed_after
    assert recorded == {"format": 1, "installed": {}}
    assert after == before


@pytest.mark.parametrize("requires", ["torch==2.12.0", "codex-core>=1!0.4"])
def test_a_plugin_that_would_replace_torch_or_codex_is_refused_and_nothing_changes(full_venv, tmp_path, requires):
    wheel = plugin_wheel(tmp_path, "codex-needs-other", requires)
    before = freeze(full_venv)

    result = full_venv.codex("plugins", "install", wheel, env=NO_INDEX)

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot install {wheel}: codex-needs-other 0.1.0 depends on {requires}, but ")
    assert "is installed here" in lines[0] and "nothing was changed" in lines[0]
    assert freeze(full_venv) == before
