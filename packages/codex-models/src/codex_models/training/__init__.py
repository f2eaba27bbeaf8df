"""The training engine: the loop (``engine``), the run directory and its outcome (``run``),
the data as tensors (``data``), optimizer and schedule (``optim``), numerics (``numerics``),
checkpoints (``checkpoint``), the progress line (``progress``), Ctrl-C/SIGTERM (``signals``),
DDP/FSDP inside a process (``parallel``) and the torchrun launcher (``launch``).

``python -m codex_models.training ARGS`` is one training process (what torchrun runs).
"""
