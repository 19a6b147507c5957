"""The fixed pixel permutation of the paper's permuted-ImageNet experiment, shared by the data
pipeline (which permutes the pixels) and the image adapter (which permutes their position features
alike)."""

from __future__ import annotations

import numpy as np


def pixel_permutation(num_pixels: int, seed: int) -> np.ndarray:
    """The order `(num_pixels,)` int32 of seed `seed`: position k of a permuted image holds pixel
    `order[k]` of the original (row-major). TensorFlow's stateless shuffle of `[seed, 0]`, computed
    eagerly (also when called while a graph is traced), so every caller gets the same constant."""
    import tensorflow as tf

    with tf.init_scope():
        order = tf.random.experimental.stateless_shuffle(tf.range(num_pixels), seed=[int(seed), 0])
        return np.asarray(order.numpy(), np.int32)
