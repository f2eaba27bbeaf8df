"""An example Codex plugin: a word-overlap F1 metric."""

__version__ = "0.1.0"
