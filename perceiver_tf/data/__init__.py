"""Data sources for perceiver_tf."""

from perceiver_tf.data.digits import DIGITS_CLASS_NAMES, load_digits_split
from perceiver_tf.data.sensors import (
    ACTIVITY_CLASS_NAMES,
    load_labelled_directory,
    load_time_series,
    pad_batch,
    resample,
    simulate_accelerometer,
)

__all__ = [
    "ACTIVITY_CLASS_NAMES",
    "DIGITS_CLASS_NAMES",
    "load_digits_split",
    "load_labelled_directory",
    "load_time_series",
    "pad_batch",
    "resample",
    "simulate_accelerometer",
]
