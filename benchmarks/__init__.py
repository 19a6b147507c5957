"""Benchmarks of perceiver_tf (run as `python -m benchmarks.<name>` from the repository root)."""
