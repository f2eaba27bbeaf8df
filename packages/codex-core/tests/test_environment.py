"""codex_core.environment: what the manifest records about software and machine."""

from __future__ import annotations

from importlib.metadata import version

from codex_core import environment


def test_distributions_are_every_installed_one_with_its_version():
    found = environment.distributions()

    assert found["pydantic"] == version("pydantic") and found["codex-core"] == version("codex-core")
    assert list(found) == sorted(found, key=str.lower)


def test_thread_settings_are_the_variables_that_are_set(monkeypatch):
    for name in environment.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")

    assert environment.thread_settings() == {"OMP_NUM_THREADS": "3"}


def test_the_environment_names_python_the_cpu_and_the_plugins():
    env = environment.environment()

    assert env["python"]["version"].count(".") == 2 and env["cpu"]["count"] >= 1
    assert all({"name", "distribution", "version", "status"} <= set(p) for p in env["plugins"])
