"""Modality x stage matrix (tests/modality_matrix.py) for points, sensor streams and multi-label data."""

from modality_matrix import matrix_test

test_matrix = matrix_test(("points", "sensors", "multi_label"))
