"""Sampling text from a causal LM (:mod:`~codex_models.generation.sampling`) and streaming
it as it is produced (:mod:`~codex_models.generation.stream`)."""
