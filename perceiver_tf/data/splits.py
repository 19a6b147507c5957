"""Seeded train / validation splits: stratified for labelled lists, hashed for streams."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def stratified_split(labels, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices `(train, val)`: each class with >= 2 members gives `round(fraction * n)` (>= 1) to val."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"`validation_fraction` must be in (0, 1). Received: {fraction!r}")
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    val = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        if len(members) >= 2:
            val.extend(members[: max(1, int(round(fraction * len(members))))])
    is_val = np.zeros(len(labels), bool)
    is_val[np.asarray(val, int)] = True
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def hashed_split(dataset: tf.data.Dataset, fraction: float, seed: int) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Split a stream of unknown size: element `i` goes to val when `U(seed, i) < fraction`."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"`validation_fraction` must be in (0, 1). Received: {fraction!r}")

    def in_val(index, *_):
        return tf.random.stateless_uniform([], [seed, tf.cast(index, tf.int32)]) < fraction

    indexed = dataset.enumerate()
    drop_index = lambda index, element: element  # noqa: E731
    train = indexed.filter(lambda i, e: tf.logical_not(in_val(i))).map(drop_index)
    val = indexed.filter(in_val).map(drop_index)
    return train, val
