"""Data sources for perceiver_tf."""

from perceiver_tf.data.digits import DIGITS_CLASS_NAMES, load_digits_split

__all__ = ["DIGITS_CLASS_NAMES", "load_digits_split"]
