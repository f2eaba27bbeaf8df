"""What a run's manifest records about the software and the machine, without torch: every
installed distribution and its version (what ``pip freeze`` would list), the codex plugins,
Python, the platform, the CPU and the thread settings, and the git state of the working
directory. The training engine adds the torch build and the devices
(``codex_models.training.run``); ``codex repro`` compares what was recorded with what is here.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "TORCH_NUM_THREADS")
"""Environment variables that set how many threads the numeric libraries use."""


def distributions() -> dict[str, str]:
    """``{name: version}`` of every installed distribution, sorted by lowercased name (the
    first one found when a name is installed twice, as ``importlib.metadata`` resolves it)."""
    from importlib.metadata import distributions as installed

    found: dict[str, str] = {}
    for dist in installed():
        name = dist.metadata["Name"] if dist.metadata else None
        if name and name not in found:
            found[name] = dist.version
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def codex_plugins() -> list[dict[str, Any]]:
    """The codex plugins this process sees: name, distribution, version and status."""
    from codex_core.plugins import get_plugin_manager

    return [{"name": info.name, "distribution": info.distribution, "version": info.version, "status": info.status}
            for info in get_plugin_manager().infos()]


def cpu() -> dict[str, Any]:
    """The CPU model (``/proc/cpuinfo``'s model name, else what ``platform`` says), the
    logical CPU count and how many of them this process may use."""
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                model = value.strip()
                break
    except OSError:
        model = None
    if model is None:
        model = platform.processor() or None
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"model": model, "count": os.cpu_count(), "affinity": affinity}


def thread_settings() -> dict[str, str]:
    """The thread-count variables that are set (``OMP_NUM_THREADS``, ...)."""
    return {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}


def git_state(cwd: str | Path | None = None) -> dict[str, Any]:
    """``{"sha", "dirty"}`` of the git checkout around ``cwd`` (the working directory by
    default); both None outside a checkout or without git. ``dirty``: tracked files differ
    from the commit (untracked files do not count)."""

    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "HEAD")
    if head is None or head.returncode != 0 or not head.stdout.strip():
        return {"sha": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    dirty = None if status is None or status.returncode != 0 else bool(status.stdout.strip())
    return {"sha": head.stdout.strip(), "dirty": dirty}


def environment() -> dict[str, Any]:
    """Everything above, as the manifest's ``environment`` (the engine adds ``threads.torch``
    and ``torch``)."""
    return {
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu(),
        "threads": {"env": thread_settings()},
        "distributions": distributions(),
        "plugins": codex_plugins(),
    }
