"""Point-cloud files -> model inputs: sample a fixed number of points, normalise, augment."""

from __future__ import annotations

import math

import tensorflow as tf

from perceiver_tf.data.point_files import NON_FINITE_POINTS, read_point_file
from perceiver_tf.data.preprocessing import normalize_points, points_to_model_input


class PointsProcessor:
    """Turns point clouds into `(num_points, 3)` xyz inside the unit sphere.

    Training samples `num_points` at random (with replacement when a cloud is smaller),
    evaluation takes evenly spaced points (`preprocessing.points_to_model_input`).

    Args:
        num_points: points per example.
        rotate: random rotation about the z (up) axis in training.
        jitter: std of Gaussian noise added to each coordinate in training (0: none).
        scale_range: `(low, high)` random isotropic scaling in training, or `None`.
    """

    modality = "points"
    input_kind = "points"
    bytes_input = "points_bytes"

    def __init__(self, num_points: int = 512, rotate: bool = False, jitter: float = 0.0,
                 scale_range: tuple[float, float] | None = None):
        if num_points < 1:
            raise ValueError(f"`num_points` must be >= 1. Received: num_points={num_points}")
        self.config = {"modality": "points", "num_points": int(num_points)}
        self.rotate, self.jitter, self.scale_range = rotate, float(jitter), scale_range

    @classmethod
    def from_config(cls, config: dict) -> "PointsProcessor":
        """The evaluation-time processor of a model's `metadata["preprocessing"]`."""
        return cls(config["num_points"])

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.config["num_points"], 3)

    def decode_bytes(self, encoded: tf.Tensor) -> tf.Tensor:
        """Raw little-endian float32 xyz triples -> `(n, 3)` (the serving format: `points.astype("<f4").tobytes()`)."""
        return self.from_decoded(tf.reshape(tf.io.decode_raw(encoded, tf.float32), [-1, 3]))

    def decode_file(self, path: tf.Tensor) -> tf.Tensor:
        """File path -> float32 `(n, 3)` (the cacheable form)."""
        return tf.ensure_shape(tf.numpy_function(read_point_file, [path], tf.float32), [None, 3])

    def from_decoded(self, points: tf.Tensor) -> tf.Tensor:
        """`(n, >= 3)` coordinates -> float32 xyz `(n, 3)`; NaN or infinite coordinates are an error."""
        return tf.debugging.assert_all_finite(tf.cast(points[:, :3], tf.float32), NON_FINITE_POINTS)

    def prepare(self, points: tf.Tensor, training: bool, seed: tf.Tensor) -> tf.Tensor:
        """Cloud `(n, 3)` -> `(num_points, 3)`; random sampling and augmentation in training."""
        if not training:
            return points_to_model_input(points, self.config)
        seeds = tf.random.experimental.stateless_split(seed, 5)
        num_points, count = self.config["num_points"], tf.shape(points)[0]
        index = tf.cond(
            count >= num_points,
            lambda: tf.random.experimental.stateless_shuffle(tf.range(count), seeds[0])[:num_points],
            lambda: tf.random.stateless_uniform([num_points], seeds[0], 0, count, dtype=tf.int32),
        )
        points = normalize_points(tf.gather(points, index))
        if self.rotate:
            angle = tf.random.stateless_uniform([], seeds[1], 0.0, 2.0 * math.pi)
            c, s = tf.cos(angle), tf.sin(angle)
            rotation = tf.stack([tf.stack([c, -s, 0.0]), tf.stack([s, c, 0.0]), tf.constant([0.0, 0.0, 1.0])])
            points = tf.matmul(points, rotation, transpose_b=True)
        if self.scale_range is not None:
            points = points * tf.random.stateless_uniform([], seeds[2], *self.scale_range)
        if self.jitter:
            points = points + tf.clip_by_value(
                tf.random.stateless_normal(tf.shape(points), seeds[3], stddev=self.jitter),
                -3 * self.jitter, 3 * self.jitter)
        return points
