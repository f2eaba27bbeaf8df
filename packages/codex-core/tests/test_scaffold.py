"""``codex plugins new``: every kind renders a plugin whose code compiles, whose pyproject names
the entry point and the codex-core range, which passes ruff and its own tests; bad input is one
line, exit status 2, and nothing written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codex_core import __version__
from codex_core._compat import satisfies
from codex_core.errors import CodexError
from codex_core.scaffold import SCAFFOLD_KINDS, core_range, create, derive_names, render, write_tree

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

LIGHT_KINDS = ("tokenizer", "dataset", "connector", "metric", "logger", "command")
"""The kinds whose plugins need nothing but codex-core (model and task need codex-models and torch)."""


def tree(folder: Path) -> list[str]:
    """Every path below ``folder``, hidden ones included: what a command left there."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def pyproject(files: dict[str, str]) -> dict:
    return tomllib.loads(files["pyproject.toml"])


# -- names and the version range ------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), [
    ("codex-shapes", ("codex-shapes", "codex_shapes", "shapes")),
    ("My.Plugin_X", ("my-plugin-x", "my_plugin_x", "my-plugin-x")),
    ("codex__Word.F1", ("codex-word-f1", "codex_word_f1", "word-f1")),
])
def test_the_import_and_plugin_names_are_derived_from_the_distribution_name(name, expected):
    names = derive_names(name)

    assert (names.distribution, names.module, names.entry_point) == expected
    assert names.component("match") == f"{expected[2]}-match"


@pytest.mark.parametrize(("version", "expected"), [
    ("1!0.3.0", ">=1!0.3,<1!1"),
    ("1!0.4.2", ">=1!0.4,<1!1"),
    ("1!2.1.0", ">=1!2.1,<1!3"),
    ("0.3.0", ">=0.3,<1"),
])
def test_the_codex_core_range_is_derived_from_a_version(version, expected):
    assert core_range(version) == expected


def test_the_range_admits_this_codex_core_and_none_of_the_unrelated_project():
    assert core_range() == ">=1!0.3,<1!1"
    assert satisfies(__version__, core_range())
    assert not any(satisfies(v, core_range()) for v in ("0.1.0", "0.2.0", "9.0.0", "1!1.0.0"))


# -- rendering ------------------------------------------------------------------------------
@pytest.mark.parametrize("kinds", [(k,) for k in SCAFFOLD_KINDS] + [SCAFFOLD_KINDS, ("dataset", "metric")],
                         ids=[*SCAFFOLD_KINDS, "all", "dataset-without-connector"])
def test_every_kind_renders_code_that_compiles_and_a_pyproject_with_the_entry_point(kinds):
    files = render(derive_names("codex-shapes"), kinds)

    for path, text in files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")
        assert "$" not in text, f"{path} has a placeholder left"
    project = pyproject(files)
    assert project["project"]["name"] == "codex-shapes"
    assert project["project"]["entry-points"]["codex"] == {"shapes": "codex_shapes.plugin"}
    assert project["project"]["dependencies"][0] == f"codex-core{core_range()}"
    assert project["tool"]["hatch"]["version"]["path"] == "src/codex_shapes/__init__.py"
    assert 'pytest>=8' in project["project"]["optional-dependencies"]["test"]
    expected = {"src/codex_shapes/plugin.py", "tests/test_plugin.py", "README.md", "LICENSE", ".gitignore",
                *(f"src/codex_shapes/{k}.py" for k in kinds), *(f"tests/test_{k}.py" for k in kinds)}
    assert expected <= set(files)


@pytest.mark.parametrize(("kinds", "extra"), [
    (("metric",), []),
    (LIGHT_KINDS, []),
    (("task",), ["codex-models"]),
    (("model",), ["codex-models", "torch", "transformers"]),
    (("dataset",), ["codex-data"]),
])
def test_only_model_task_and_a_dataset_without_connector_need_more_than_codex_core(kinds, extra):
    requires = pyproject(render(derive_names("codex-shapes"), kinds))["project"]["dependencies"]

    assert [r.split(">")[0] for r in requires] == ["codex-core", *extra]
    assert all(r.endswith(core_range()) for r in requires if r.startswith("codex-"))


def test_the_plugin_module_registers_lazily_and_imports_nothing_but_hookimpl():
    plugin = render(derive_names("codex-shapes"), SCAFFOLD_KINDS)["src/codex_shapes/plugin.py"]

    imports = [line.strip() for line in plugin.splitlines() if line.lstrip().startswith(("import ", "from "))]
    assert imports == ["from __future__ import annotations", "from typing import TYPE_CHECKING",
                       "from codex_core import hookimpl", "import click", "from codex_core.registry import RegisterFn",
                       "from codex_shapes.command import command  # imports click and codex_core only"]
    assert plugin.count("@hookimpl") == len(SCAFFOLD_KINDS)
    assert '"codex_shapes.tokenizer:ByteTokenizer",' in plugin
    assert 'config="codex_shapes.tokenizer:ByteTokenizerParams",' in plugin


# -- the command ----------------------------------------------------------------------------
def test_json_describes_what_was_written(codex, tmp_path):
    done = codex("plugins", "new", "codex-shapes", "-o", str(tmp_path), "--json")

    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert list(made) == ["path", "distribution", "module", "entry_point", "components", "files"]
    assert (made["path"], made["distribution"], made["module"], made["entry_point"]) == (
        str(tmp_path / "codex-shapes"), "codex-shapes", "codex_shapes", "shapes")
    assert made["components"] == {"metric": ["shapes-match"]}  # the default kind
    assert made["files"] == [p for p in tree(tmp_path / "codex-shapes") if (tmp_path / "codex-shapes" / p).is_file()]
    assert tree(tmp_path) == ["codex-shapes", *(f"codex-shapes/{p}" for p in tree(tmp_path / "codex-shapes"))]


def test_every_kind_names_its_components_after_the_plugin(codex, tmp_path):
    done = codex("plugins", "new", "codex-shapes", "--kind", "tokenizer,model", "--kind", "all", "--json",
                 cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["components"] == {
        "tokenizer": ["shapes-bytes"], "model": ["shapes-tiny-gpt"], "dataset": ["shapes-lines"],
        "connector": ["shapes-folder"], "metric": ["shapes-match"], "logger": ["shapes-jsonl"],
        "task": ["shapes-continue"], "command": ["shapes"]}


def test_the_text_output_names_the_next_commands(codex, tmp_path):
    done = codex("plugins", "new", "codex-shapes", "--kind", "metric", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        "created codex-shapes: distribution codex-shapes, import name codex_shapes, plugin shapes")
    assert "  pip install -e './codex-shapes[test]'" in done.stdout.splitlines()
    assert "  pytest codex-shapes/tests" in done.stdout.splitlines()


def test_help_says_how_the_names_are_derived(codex):
    done = codex("plugins", "new", "--help")

    assert done.returncode == 0
    assert "(codex-shapes: codex_shapes)" in done.stdout and "without a leading 'codex-'" in done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["bad name"], "error: 'bad name' is not a valid distribution name; use letters, digits"),
    (["codex-"], "error: 'codex-' is not a valid distribution name"),
    (["3d-tools"], "error: '3d-tools' starts with a digit, so its import name '3d_tools' is not a Python identifier"),
    (["codex-models"], "error: 'codex-models' is a distribution of codex itself"),
    (["codex-train"], "error: the plugin name 'train' of 'codex-train' is taken by the command `codex train`"),
    (["json"], "error: the import name 'json' of 'json' is taken by the standard library"),
    (["x", "--kind", "metric,tokeniser"], "error: unknown kind 'tokeniser'; did you mean 'tokenizer'?; kinds: "),
    (["x", "--kind", ","], "error: --kind names no kind"),
    (["taken"], "already exists and is not empty; choose another NAME or -o DIR, or remove it first"),
    (["afile"], "already exists and is not a folder"),
    (["x", "-o", "afile"], "is not a folder; give -o an existing folder"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(codex, tmp_path, args, message):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine\n")
    (tmp_path / "afile").write_text("a file\n")
    before = tree(tmp_path)

    done = codex("plugins", "new", *args, cwd=tmp_path)

    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr
    assert done.stdout == ""
    assert tree(tmp_path) == before


def test_an_empty_target_folder_is_filled(tmp_path):
    (tmp_path / "codex-shapes").mkdir()

    made = create("codex-shapes", ["metric"], tmp_path)

    assert (made.path / "pyproject.toml").is_file()


def test_a_write_that_fails_half_way_leaves_nothing(tmp_path):
    # "src" is written as a file first, so writing "src/pkg/plugin.py" below it fails.
    files = {"README.md": "# x\n", "src": "not a folder\n", "src/pkg/plugin.py": "x = 1\n"}

    with pytest.raises(CodexError, match=r"cannot write .*codex-shapes: Not a directory; choose another folder"):
        write_tree(files, tmp_path / "codex-shapes")

    assert tree(tmp_path) == []


def test_a_target_that_appears_meanwhile_is_not_overwritten(tmp_path):
    target = tmp_path / "codex-shapes"

    class Racing(dict):
        """Files whose writing lets another process create the target first."""

        def items(self):
            (target / "theirs").mkdir(parents=True)
            yield "README.md", "# x\n"

    with pytest.raises(CodexError, match="already exists and is not empty"):
        write_tree(Racing(), target)

    assert tree(tmp_path) == ["codex-shapes", "codex-shapes/theirs"]


# -- the generated project passes its own checks --------------------------------------------
def _ruff() -> str | None:
    return shutil.which("ruff", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


@pytest.mark.parametrize("kinds", [SCAFFOLD_KINDS, ("metric",), ("command",), ("dataset",)],
                         ids=["all", "metric", "command", "dataset-without-connector"])
def test_the_generated_code_passes_ruff_with_its_own_settings(tmp_path, kinds):
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed here (it is in the development environment)")
    made = create("codex-a-rather-long-plugin-name", kinds, tmp_path)

    done = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", "."], cwd=made.path,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_generated_tests_pass_out_of_the_box(tmp_path):
    made = create("codex-shapes", LIGHT_KINDS, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_") and k != "PYTHONPATH"}

    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
                          cwd=made.path, capture_output=True, text=True, timeout=300, env=env)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
