"""Source kind `digits`: the built-in offline handwritten digits (`digits.py`), with their own split."""

from __future__ import annotations

import numpy as np

from perceiver_tf.data.array_source import from_arrays
from perceiver_tf.data.digits import DIGITS_CLASS_NAMES, load_digits_split
from perceiver_tf.data.options import DataOptions
from perceiver_tf.data.source import DataSource, register_source


def load_digits_source(spec: str, options: DataOptions) -> DataSource:
    """The digits as 8x8 grey images (pixels 0-255), validation the seeded stratified split of
    `load_digits_split` (`explicit_val`)."""
    (x_train, y_train), (x_val, y_val) = load_digits_split(options.validation_fraction, options.seed)
    source = from_arrays(np.concatenate([x_train, x_val]) * 255.0, np.concatenate([y_train, y_val]),
                         DIGITS_CLASS_NAMES, options,
                         validation_index=np.arange(len(x_train), len(x_train) + len(x_val)))
    source.explicit_val = True
    return source


register_source("digits", lambda spec: spec == "digits", load_digits_source, "'digits'")
