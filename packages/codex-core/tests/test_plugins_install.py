"""``codex plugins install`` / ``uninstall`` without changing this environment: the pins, the
refusals and pip's conflicts (real pip, ``--dry-run``, on wheels written here), the record and the
mark in ``codex plugins list``. Real installs are in tests/install/test_plugins_install.py."""

from __future__ import annotations

import json
import sys
import types
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from codex_core import hookimpl
from codex_core.cli import cli
from codex_core.cli.plugins_install import (
    Installed,
    constraints_text,
    installed_distributions,
    pins,
    pip_error,
    requested_name,
    update_record,
)
from codex_core.plugins import INSTALLED_BY, install_record_path, read_install_record

FIRST_PARTY = ["codex-core", "codex-tokenizers", "codex-data", "codex-models", "codex-telemetry"]
NO_INDEX = {"PIP_NO_INDEX": "1"}  # pip sees only the wheels a test writes (and what is installed)


def write_wheel(folder: Path, name: str, ver: str, requires: tuple[str, ...] = (), plugin: str | None = None) -> Path:
    """A minimal wheel of ``name`` (one empty module), with a ``codex`` entry point when ``plugin``."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = name.replace("-", "_")
    info = f"{stem}-{ver}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {ver}", *(f"Requires-Dist: {r}" for r in requires)]
    files = {f"{stem}/__init__.py": "", f"{info}/METADATA": "\n".join(meta) + "\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: codex-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    if plugin:
        files[f"{info}/entry_points.txt"] = f"[codex]\n{plugin} = {stem}\n"
    path = folder / f"{stem}-{ver}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for member, text in files.items():
            whl.writestr(member, text)
        whl.writestr(f"{info}/RECORD", "".join(f"{m},,\n" for m in [*files, f"{info}/RECORD"]))
    return path


def dry_install(codex, *args: str, env: dict[str, str] | None = None):
    """``codex plugins install --dry-run ARGS``: pip resolves, nothing is installed here."""
    return codex("plugins", "install", "--dry-run", *args, env={**NO_INDEX, **(env or {})})


# -- the pins ----------------------------------------------------------------------------
def test_the_constraints_pin_every_installed_codex_package_and_torch_at_its_version():
    text = constraints_text(pins(installed_distributions()))

    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [f"{name}=={version(name)}" for name in [*FIRST_PARTY, "torch"]]


def test_only_installed_ones_are_pinned():
    installed = {"codex-core": Installed("codex-core", "1!0.3.0"), "numpy": Installed("numpy", "2.0")}

    assert pins(installed) == {"codex-core": "1!0.3.0"}


def test_a_plugin_that_needs_another_torch_is_refused_in_one_line_naming_the_conflict(codex, tmp_path):
    wheel = write_wheel(tmp_path, "codex-old-torch-x", "0.1.0", ("torch==2.12.0",), plugin="old-torch")

    result = dry_install(codex, str(wheel))

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"error: cannot install {wheel}: codex-old-torch-x 0.1.0 depends on torch==2.12.0, but torch "
        f"{version('torch')} is installed here (codex plugins install never replaces torch or codex's own packages); "
        "nothing was changed; choose a version of the plugin that works with the installed ones, or upgrade codex first"]


def test_a_plugin_that_needs_a_newer_codex_core_is_refused(codex, tmp_path):
    wheel = write_wheel(tmp_path, "codex-future-x", "0.1.0", ("codex-core>=1!0.4",), plugin="future")

    result = dry_install(codex, str(wheel))

    assert result.returncode == 2
    assert (f"codex-future-x 0.1.0 depends on codex-core>=1!0.4, but codex-core {version('codex-core')} "
            "is installed here") in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_the_users_own_constraints_still_apply(codex, tmp_path):
    links = tmp_path / "links"
    write_wheel(links, "codex-dep-x", "1.0")
    write_wheel(links, "codex-dep-x", "2.0")
    wheel = write_wheel(tmp_path, "codex-uses-dep-x", "0.1.0", ("codex-dep-x",), plugin="uses-dep")
    mine = tmp_path / "mine.txt"
    mine.write_text("codex-dep-x==1.0\n")

    free = dry_install(codex, "--json", "--find-links", str(links), str(wheel))
    held = dry_install(codex, "--json", "--find-links", str(links), str(wheel), env={"PIP_CONSTRAINT": str(mine)})

    def planned(result):
        assert result.returncode == 0, result.stderr
        return {e["distribution"]: e["version"] for e in json.loads(result.stdout)["installed"]}
    assert planned(free) == {"codex-uses-dep-x": "0.1.0", "codex-dep-x": "2.0"}
    assert planned(held) == {"codex-uses-dep-x": "0.1.0", "codex-dep-x": "1.0"}


def test_the_dry_run_json_says_what_would_be_installed_and_the_pins(codex, tmp_path):
    wheel = write_wheel(tmp_path, "codex-fine-x", "0.2.0", ("codex-core>=1!0.3,<1!1",), plugin="fine")

    result = dry_install(codex, "--json", str(wheel))

    summary = json.loads(result.stdout)
    assert summary["dry_run"] is True and summary["warnings"] == []
    assert summary["installed"] == [{"distribution": "codex-fine-x", "version": "0.2.0", "requested": True,
                                     "plugins": None}]
    assert summary["pinned"]["codex-core"] == version("codex-core") and "torch" in summary["pinned"]


def test_a_failure_that_is_no_conflict_is_pips_own_error_line(codex):
    result = dry_install(codex, "codex-no-such-plugin-x")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: pip could not install codex-no-such-plugin-x: No matching distribution found for "
        "codex-no-such-plugin-x; nothing was changed; codex -v plugins install ... shows pip's output"]


# -- the refusals (before pip runs) ----------------------------------------------------------
@pytest.mark.parametrize("name", ["codex-core", "Codex_Models[eval]>=1!0.3", "codex-data @ https://example.org/x.whl"])
def test_installing_a_codex_package_is_refused_with_how_to_upgrade_codex(codex, name):
    result = dry_install(codex, name)

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: refusing to install {name}: ")
    assert "is installed and pinned" in result.stderr
    assert "python -m pip install -U --find-links DIR codex-core" in result.stderr


def test_installing_torch_is_refused(codex):
    result = dry_install(codex, "torch==2.12.0")

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: refusing to install torch==2.12.0: torch {version('torch')} is "
                                    "installed and pinned")


def test_a_codex_package_as_a_wheel_or_folder_is_refused_too(codex, tmp_path):
    stand_in = write_wheel(tmp_path, "codex-core", "9.0.0")
    folder = tmp_path / "data-src"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "codex_data"\nversion = "9.0"\n')

    result = dry_install(codex, str(stand_in), str(folder))

    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 2
    assert lines[0].startswith(f"error: refusing to install {stand_in}: codex-core ")
    assert lines[1].startswith(f"error: refusing to install {folder}: codex-data ")


def test_every_refusal_is_its_own_line_and_nothing_runs(codex, tmp_path):
    result = dry_install(codex, "codex-core", str(tmp_path / "missing.whl"), "--find-links", str(tmp_path / "no"))

    assert result.returncode == 2
    assert [line.split(":")[1].strip() for line in result.stderr.splitlines()] == [
        "refusing to install codex-core", "no such file or folder", "--find-links"]


def test_install_needs_something_to_install(codex):
    result = codex("plugins", "install")

    assert (result.returncode, result.stderr) == (2, "error: nothing to install; give a NAME (a project, a wheel, "
                                                     "a folder) or -e PATH\n")


@pytest.mark.parametrize(("arg", "expected"), [
    ("Codex_Word.F1>=0.1", "codex-word-f1"),
    ("codex-word-f1[extra] @ https://example.org/codex_word_f1-0.1.0-py3-none-any.whl", "codex-word-f1"),
    ("dist/codex_word_f1-0.1.0-py3-none-any.whl", "codex-word-f1"),
    ("dist/codex-word-f1-0.1.0.tar.gz", "codex-word-f1"),
    ("git+https://example.org/word-f1.git", None),
    ("not a requirement!", None),
])
def test_the_project_an_argument_names(arg, expected):
    assert requested_name(arg) == expected


# -- uninstall refusals -------------------------------------------------------------------
# Without -y: if a refusal ever failed, the confirmation (no answer on stdin) would stop pip.
@pytest.mark.parametrize(("name", "line"), [
    ("codex-core", "error: refusing to uninstall codex-core: codex-core, part of codex, is not a plugin; "
                   "use pip itself to remove codex"),
    ("models", "error: refusing to uninstall models: codex-models, part of codex, is not a plugin; "
               "use pip itself to remove codex"),
    ("torch", "error: refusing to uninstall torch: torch, which codex needs, is not a plugin; "
              "use pip itself to remove codex"),
    ("pluggy", "error: refusing to uninstall pluggy: pluggy is not a codex plugin (it declares no 'codex' entry "
               "point); use pip itself for other packages"),
    ("codex-nothing-x", "error: codex-nothing-x is not installed; codex plugins list shows the installed plugins"),
])
def test_uninstall_refuses_what_is_not_an_installed_plugin(codex, name, line):
    result = codex("plugins", "uninstall", name, input="")

    assert (result.returncode, result.stderr.splitlines()) == (2, [line])


def test_uninstall_refuses_all_when_one_is_refused(codex):
    result = codex("plugins", "uninstall", "codex-core", "codex-nothing-x", input="")

    assert result.returncode == 2 and len(result.stderr.splitlines()) == 2


# -- the record and the mark ----------------------------------------------------------------
@pytest.fixture
def prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's ``sys.prefix`` moved to a temporary folder, where the record lives."""
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))
    return tmp_path / "env"


def word_f1_plugin() -> types.ModuleType:
    plugin = types.ModuleType("word_f1_plugin")

    @hookimpl
    def codex_register_metrics(register):
        register("word-f1", "os.path:join")

    plugin.codex_register_metrics = codex_register_metrics
    return plugin


ENTRY = {"distribution": "Codex_Word_F1", "version": "0.1.0", "plugins": ["word-f1"], "requested": True}


def test_the_record_lives_in_the_environment_and_keeps_only_what_is_installed(prefix):
    installed = {"codex-word-f1": Installed("Codex_Word_F1", "0.1.0", ("word-f1",))}

    update_record({"codex-word-f1": ENTRY, "codex-gone": {**ENTRY, "distribution": "codex-gone"}}, set(), installed)

    assert install_record_path() == prefix / "share" / "codex" / "installed-plugins.json"
    assert json.loads(install_record_path().read_text()) == {"format": 1, "installed": {"codex-word-f1": ENTRY}}
    assert read_install_record() == {"codex-word-f1": ENTRY}


def test_uninstalling_removes_the_entry(prefix):
    installed = {"codex-word-f1": Installed("Codex_Word_F1", "0.1.0", ("word-f1",))}
    update_record({"codex-word-f1": ENTRY}, set(), installed)

    update_record({}, {"codex-word-f1"}, installed)

    assert read_install_record() == {}


def test_nothing_to_record_writes_no_record(prefix):
    update_record({}, {"codex-word-f1"}, {})

    assert not install_record_path().exists()


def test_plugins_list_marks_what_codex_plugins_install_installed(prefix, register_codex_plugin):
    register_codex_plugin(word_f1_plugin(), name="word-f1", distribution="codex-word-f1", version="0.1.0")
    register_codex_plugin(types.ModuleType("other"), name="other", distribution="codex-other", version="1.0")
    update_record({"codex-word-f1": ENTRY}, set(), {"codex-word-f1": Installed("codex-word-f1", "0.1.0")})

    listed = CliRunner().invoke(cli, ["plugins", "list", "--json"])
    table = CliRunner().invoke(cli, ["plugins", "list"])

    assert {e["name"]: e["installed_by"] for e in json.loads(listed.output)} == {"other": None,
                                                                                 "word-f1": INSTALLED_BY}
    rows = [line.split() for line in table.output.splitlines()]
    assert rows[0] == ["NAME", "DISTRIBUTION", "VERSION", "STATUS", "INSTALLED", "BY", "COMPONENTS"]
    assert rows[1] == ["other", "codex-other", "1.0", "ok", "-"]
    assert rows[2] == ["word-f1", "codex-word-f1", "0.1.0", "ok", "codex", "metric:", "word-f1"]


def test_without_a_record_the_table_has_no_mark_column(prefix, register_codex_plugin):
    register_codex_plugin(word_f1_plugin(), name="word-f1", distribution="codex-word-f1", version="0.1.0")

    table = CliRunner().invoke(cli, ["plugins", "list"])

    assert table.output.splitlines()[0].split() == ["NAME", "DISTRIBUTION", "VERSION", "STATUS", "COMPONENTS"]


def test_a_record_that_is_not_codexs_is_a_warning_and_marks_nothing(prefix, caplog):
    install_record_path().parent.mkdir(parents=True)
    install_record_path().write_text('{"installed": ["codex-word-f1"]}')

    assert read_install_record() == {}
    assert "not the record codex plugins install writes" in caplog.text


def test_pips_error_line_is_found_in_both_of_its_styles():
    plain = "Processing x\nERROR: No matching distribution found for x\n"
    diagnostic = ("error: subprocess-exited-with-error\n\n\u00d7 Getting requirements to build wheel did not run "
                  "successfully.\n\u2502 exit code: 1\n\nnote: This error originates from a subprocess.\n")

    assert pip_error(plain) == "No matching distribution found for x"
    assert pip_error(diagnostic) == "subprocess-exited-with-error: Getting requirements to build wheel did not run " \
                                    "successfully"
