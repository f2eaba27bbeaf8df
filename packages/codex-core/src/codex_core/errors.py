"""Errors a user can fix. The CLI prints them as one line and exits with status 2."""

from __future__ import annotations

from collections.abc import Iterable


class CodexError(Exception):
    """An error the user can fix: bad input, a missing file, an unknown name.

    The message says what is wrong and where; ``hint`` says how to fix it.
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class ConfigError(CodexError):
    """A config file or override is invalid."""


class ComponentError(CodexError):
    """A component is unknown, clashes with another, or cannot be built."""


class PluginError(CodexError):
    """A plugin failed to load (raised only with CODEX_STRICT_PLUGINS=1)."""


class RunDirError(CodexError):
    """A run directory is missing, locked, or not a run directory."""


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``word``, or None when nothing is close."""
    import difflib

    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None
