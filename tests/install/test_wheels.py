"""Built distributions install à la carte, from the built files, never as the unrelated
``codex-core``: the acceptance test of the package metadata and the version scheme.

The tests of this module share one torch-free venv and run in file order: codex-core alone
first, then codex-tokenizers added to it.
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from install_env import PACKAGES, installed_from

pytestmark = pytest.mark.slow
VERSION = "1!0.3.0"
SIBLING_RANGE = "codex-core<1!1,>=1!0.3"


def from_dist(report: dict, dist_dir: Path) -> dict[str, str]:
    """The codex-* projects a pip report installed, each checked to be ours from dist_dir."""
    ours = {}
    for name, (version, url) in installed_from(report).items():
        if name.startswith("codex"):
            assert url.startswith(dist_dir.as_uri()), f"{name} came from {url}, not from the built wheels"
            assert version == VERSION, f"{name} {version} is a stand-in, not ours"
            ours[name] = version
    return ours


def wheel_metadata(path: Path):
    with zipfile.ZipFile(path) as whl:
        name = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(whl.read(name).decode())


def test_python_m_build_makes_a_wheel_and_an_sdist_of_each_package_with_complete_metadata(dist_dir):
    for dist in PACKAGES:
        stem = dist.replace("-", "_")
        wheel = dist_dir / f"{stem}-{VERSION}-py3-none-any.whl"
        sdist = dist_dir / f"{stem}-{VERSION}.tar.gz"
        assert wheel.is_file() and sdist.is_file(), sorted(p.name for p in dist_dir.iterdir())
        meta = wheel_metadata(wheel)
        assert (meta["Name"], meta["Version"], meta["Requires-Python"]) == (dist, VERSION, ">=3.10")
        assert meta["License-Expression"] == "Apache-2.0" and meta["Summary"]
        assert meta.get_all("Project-URL") and len(meta.get_all("Classifier")) >= 8
        assert meta.get_payload().strip(), f"{dist}: no readme in the metadata"
        requires = meta.get_all("Requires-Dist") or []
        if dist != "codex-core":
            assert SIBLING_RANGE in requires, requires
        with tarfile.open(sdist) as tar:
            names = {Path(n).relative_to(f"{stem}-{VERSION}").as_posix() for n in tar.getnames() if "/" in n}
        assert {"pyproject.toml", "README.md", "LICENSE", "PKG-INFO"} <= names, sorted(names)[:20]
        assert any(n.startswith("tests/") for n in names), f"{dist}: the sdist lacks its tests"
    extras = {d: set(wheel_metadata(dist_dir / f"{d.replace('-', '_')}-{VERSION}-py3-none-any.whl").get_all("Provides-Extra") or [])
              for d in PACKAGES}
    assert extras == {"codex-core": {"test"}, "codex-tokenizers": {"rust"}, "codex-data": {"hf"},
                      "codex-models": {"eval", "lm-eval", "serve", "test"},
                      "codex-telemetry": {"tensorboard", "mlflow", "plot", "nvml", "wandb", "all"}}


def test_codex_core_alone_comes_from_the_wheels_and_lists_plugins_without_torch(core_venv, core_install, dist_dir,
                                                                                tmp_path):
    assert from_dist(core_install, dist_dir) == {"codex-core": VERSION}
    listed = core_venv.codex("plugins", "list", "--json")
    config = tmp_path / "run.yaml"
    config.write_text("tokenizer: char\ndata: stdlib-code\nmodel: {name: gpt2, params: {n_layer: 2}}\n")
    validated = core_venv.codex("config", "validate", "-c", config)
    train = core_venv.codex("train")
    probe = core_venv.imports("import importlib.util as u, codex_core; "
                              "print(codex_core.__version__, u.find_spec('torch') is None, hasattr(codex_core, 'STAND_IN'))")

    assert (listed.returncode, json.loads(listed.stdout)) == (0, []), listed.stderr
    assert validated.returncode == 0 and "model 'gpt2' is not installed here" in validated.stderr, validated.stderr
    assert train.returncode == 2
    assert train.stderr.strip() == "error: `codex train` is provided by codex-models, which is not installed (pip install codex-models)"
    assert probe.stdout.split() == [VERSION, "True", "False"], probe.stderr


def test_the_stand_ins_are_installable_so_only_the_version_scheme_keeps_pip_off_them(core_venv, dist_dir):
    # The control: asked for an epoch-0 codex-core, pip takes the highest stand-in; that is what
    # an epoch-0 version of ours and a sibling range like >=0.1 would have let in.
    report = core_venv.pip_install("--dry-run", "--ignore-installed", "--no-deps", "codex-core<1!0")
    assert installed_from(report)["codex-core"][0] == "9.0.0"


def test_codex_tokenizers_alone_works_on_the_pure_engine_without_the_tokenizers_library(core_venv, dist_dir, tmp_path):
    report = core_venv.pip_install("codex-tokenizers")
    assert from_dist(report, dist_dir) == {"codex-tokenizers": VERSION}
    listed = json.loads(core_venv.codex("plugins", "list", "--json").stdout)
    assert [(p["distribution"], p["version"], p["status"]) for p in listed] == [("codex-tokenizers", VERSION, "ok")]

    from codex_tokenizers import load, train  # the test environment's (with the tokenizers library)

    tok_json = tmp_path / "tokenizer.json"
    train("bpe", vocab_size=300, texts=["def add(a, b):\n    return a + b\n"] * 50, output=tok_json)
    text = "def add(x, y): return x + y  # ünïcode 👍"
    encoded = core_venv.codex("tokenizer", "encode", "-t", tok_json, "--json", text)
    forced = core_venv.codex("tokenizer", "encode", "-t", tok_json, "--backend", "rust", text)
    missing = core_venv.imports("import importlib.util as u; print(u.find_spec('tokenizers') is None)")

    assert encoded.returncode == 0, encoded.stderr
    result = json.loads(encoded.stdout)
    assert result["backend"] == "python"
    assert result["ids"] == load(tok_json, backend="rust").encode(text).ids
    assert forced.returncode == 2 and "needs the 'tokenizers' library" in forced.stderr
    assert missing.stdout.strip() == "True"


def test_codex_core_and_codex_models_add_the_models_plugin(full_install, dist_dir):
    env, report, listed = full_install
    assert from_dist(report, dist_dir) == {"codex-core": VERSION, "codex-models": VERSION, "codex-data": VERSION}
    assert installed_from(report)["torch"][0].split("+")[0] == "2.13.0"
    plugins = {p["distribution"]: (p["version"], p["status"]) for p in listed}
    assert plugins == {"codex-data": (VERSION, "ok"), "codex-models": (VERSION, "ok")}
    models = env.codex("models", "list", "--json")
    assert models.returncode == 0 and "gpt2" in {m["family"] for m in json.loads(models.stdout)}, models.stderr
