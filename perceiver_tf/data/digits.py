"""The built-in offline dataset: scikit-learn's 8x8 handwritten digits (1,797 images)."""

from __future__ import annotations

import numpy as np

DIGITS_CLASS_NAMES = [str(i) for i in range(10)]


def load_digits_split(validation_fraction: float = 0.2, seed: int = 0):
    """Load digits as images `(n, 8, 8, 1)` in [0, 1] and split them (seeded, stratified).

    Returns:
        `((x_train, y_train), (x_val, y_val))`; labels are int32 class ids 0-9.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"`validation_fraction` must be in (0, 1). Received: {validation_fraction!r}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target.astype(np.int32)
    x_train, x_val, y_train, y_val = train_test_split(
        images, labels, test_size=validation_fraction, random_state=seed, stratify=labels
    )
    return (x_train, y_train), (x_val, y_val)
