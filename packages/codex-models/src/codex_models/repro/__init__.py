"""Reproducibility of runs: ``codex repro show``, ``check`` and ``diff`` (the logic; the
commands are in :mod:`codex_models.cli.repro_cmd`).

* :func:`check_run`: re-run a run's first N steps and compare metrics, fingerprints and
  weights (:class:`CheckResult`);
* :func:`diff_runs`: why two runs differ, most decisive first;
* :func:`manifest_sections`: a manifest in readable sections.

Importing this package imports no torch.
"""

from __future__ import annotations

from codex_models.repro.check import CheckResult, check_run
from codex_models.repro.diff import diff_runs
from codex_models.repro.show import manifest_sections

__all__ = ["CheckResult", "check_run", "diff_runs", "manifest_sections"]
