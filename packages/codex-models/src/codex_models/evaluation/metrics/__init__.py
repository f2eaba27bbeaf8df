"""Evaluation metrics (registered through ``codex_register_metrics``)."""
