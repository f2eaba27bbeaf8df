"""Evaluation: metrics (``exact_match``)."""
