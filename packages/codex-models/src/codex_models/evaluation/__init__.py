"""Evaluation: tasks (``tasks/``), metrics (``metrics/``), the language-model adapter the
tasks talk to (``lm.py``), the code sandbox (``sandbox.py``) and the runner behind
``codex eval`` and ``trainer.eval_tasks`` (``runner.py``)."""
