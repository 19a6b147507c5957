"""Modality x stage matrix (tests/modality_matrix.py) for the grid modalities: image, audio, audio + video."""

from modality_matrix import matrix_test

test_matrix = matrix_test(("image", "audio", "audio_video"))
