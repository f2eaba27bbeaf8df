"""Broken and incompatible plugins, planted as installed distributions next to the real ones.

A plugin that raises at import, registers a factory that cannot be imported or called, names a
params model that does not exist, has a hook with a wrong signature, or requires another
codex-core: commands that do not need it still work (it is listed with its error), a command
that names its component fails with one line naming the component, and with
``CODEX_STRICT_PLUGINS=1`` every command fails with one line naming the plugin. Exit 2 each
time, no traceback, the runs root unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fault_jobs import tree_hashes

PLUGINS = {  # distribution name -> module source
    "raises-at-import": "raise RuntimeError('this plugin is broken on purpose')\n",
    "lazy-nowhere": """
        from codex_core import hookimpl

        @hookimpl
        def codex_register_tokenizers(register):
            register("lazy-nowhere", "no_such_module_anywhere:make")
    """,
    "wrong-arity": """
        from codex_core import hookimpl

        @hookimpl
        def codex_register_tokenizers(register):
            register("wrong-arity", lambda: None)
    """,
    "not-callable": """
        from codex_core import hookimpl

        @hookimpl
        def codex_register_tokenizers(register):
            register("not-callable", 42)
    """,
    "bad-params-model": """
        from codex_core import hookimpl

        @hookimpl
        def codex_register_tokenizers(register):
            register("no-params-model", "codex_tokenizers.char:CharTokenizer", config="no_such_module_anywhere:Params")
    """,
    "wrong-signature": """
        from codex_core import hookimpl

        @hookimpl
        def codex_register_tokenizers(registr):
            registr("never", lambda **kw: None)
    """,
    "raises-in-register": """
        from codex_core import hookimpl

        @hookimpl
        def codex_register_tokenizers(register):
            register("half", lambda **kw: None)
            raise ValueError("registration broken on purpose")
    """,
}
INCOMPATIBLE = "needs-core-9"


def plant_plugin(site: Path, dist: str, source: str, *, requires: str = "codex-core>=1!0.3,<1!1") -> Path:
    """An installed-looking plugin distribution in ``site`` (a module named after ``dist`` and a
    .dist-info folder with a ``codex`` entry point, as pip leaves them); returns ``site``."""
    import textwrap

    module = dist.replace("-", "_")
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{module}-1.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0.0\nRequires-Dist: {requires}\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[codex]\n{dist} = {module}\n", encoding="utf-8")
    return site



@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_plugins: None) -> Path:
    site = tmp_path / "site"
    for dist, source in PLUGINS.items():
        plant_plugin(site, dist, source)
    plant_plugin(site, INCOMPATIBLE, "raise AssertionError('an incompatible plugin is never imported')\n",
                 requires="codex-core>=1!9")
    monkeypatch.syspath_prepend(str(site))
    return site


def _one_line_exit_2(code: int, err: str, *words: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in err, (word, err)


def test_broken_plugins_are_listed_and_the_rest_of_codex_works(planted, world, codex_main) -> None:
    before = tree_hashes(world.runs)

    listed = codex_main("plugins", "list", "--json")
    validated = codex_main("config", "validate", "-c", world.paths["good_yaml"], "--strict")

    status = {p["name"]: (p["status"], p.get("error") or "") for p in json.loads(listed[1])}
    assert listed[0] == 0 and validated[0] == 0, (listed, validated)
    assert status["raises-at-import"] == ("error", status["raises-at-import"][1])
    assert "broken on purpose" in status["raises-at-import"][1]
    assert status["wrong-signature"][0] == "error" and "registr" in status["wrong-signature"][1]
    assert status["raises-in-register"][0] == "error"
    assert status[INCOMPATIBLE][0] == "incompatible"
    assert status["not-callable"][0] == "error"  # the registry refuses a factory it cannot call
    assert status["lazy-nowhere"][0] == "ok" and status["wrong-arity"][0] == "ok" and status["models"][0] == "ok"
    assert tree_hashes(world.runs) == before


COMPONENT_CASES = [  # (tokenizer name, words the one line must hold)
    ("lazy-nowhere", ("lazy-nowhere", "no_such_module_anywhere")),
    ("wrong-arity", ("wrong-arity",)),
    ("not-callable", ("not-callable",)),  # its plugin failed: an unknown name, with what is installed
    ("no-params-model", ("no-params-model", "no_such_module_anywhere")),
    ("half", ("half",)),  # its plugin failed in registration: the component is gone with it
    ("never", ("never",)),
]


@pytest.mark.parametrize(("name", "words"), COMPONENT_CASES, ids=[c[0] for c in COMPONENT_CASES])
def test_a_broken_plugins_component_fails_in_one_line(planted, world, codex_main, tmp_path: Path, name: str,
                                                      words: tuple[str, ...]) -> None:
    before = tree_hashes(world.runs)

    code, _, err = codex_main("data", "prepare", "--dataset", "text", "--dataset-param",
                              f"paths=[{world.paths['corpus']}]", "--tokenizer", name, "-o", str(tmp_path / "out"))

    _one_line_exit_2(code, err, *words)
    assert tree_hashes(world.runs) == before


STRICT_COMMANDS = [("plugins", "list"), ("config", "show"), ("data", "list"), ("tokenizer", "inspect", "-t", "{tok}"),
                   ("train", "--dry-run"), ("logs", "summary", "good")]


@pytest.mark.parametrize("args", STRICT_COMMANDS, ids=[" ".join(a[:2]) for a in STRICT_COMMANDS])
def test_strict_plugins_make_every_command_fail_in_one_line_naming_the_plugin(
        planted, world, codex_main, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    monkeypatch.setenv("CODEX_STRICT_PLUGINS", "1")
    before = tree_hashes(world.runs)

    code, _, err = codex_main(*(a.format(**world.paths) for a in args))

    _one_line_exit_2(code, err, "plugin")
    assert any(dist in err for dist in [*PLUGINS, INCOMPATIBLE]), err
    assert tree_hashes(world.runs) == before
