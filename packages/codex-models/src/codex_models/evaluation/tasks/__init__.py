"""Evaluation tasks (registered through ``codex_register_tasks``)."""
