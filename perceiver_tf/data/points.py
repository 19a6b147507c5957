"""Point-cloud files -> model inputs: sample a fixed number of points, normalise, (align,) augment."""

from __future__ import annotations

import math

import tensorflow as tf

from perceiver_tf.data.point_files import NON_FINITE_POINTS, read_point_file
from perceiver_tf.data.preprocessing import POINT_ALIGNMENTS, normalize_points, points_to_model_input, prepare_points

#: Random rotations of training clouds: none, about the z (up) axis, or any 3-D rotation.
ROTATIONS = ("none", "z", "so3")


def random_rotation(seed: tf.Tensor, mode: str) -> tf.Tensor:
    """A random `(3, 3)` rotation: identity ("none"), uniform about z ("z"), or uniform over SO(3) ("so3",
    from a normalised Gaussian quaternion, which is uniform on the unit 3-sphere)."""
    if mode == "none":
        return tf.eye(3)
    if mode == "z":
        angle = tf.random.stateless_uniform([], seed, 0.0, 2.0 * math.pi)
        c, s = tf.cos(angle), tf.sin(angle)
        return tf.stack([tf.stack([c, -s, 0.0]), tf.stack([s, c, 0.0]), tf.constant([0.0, 0.0, 1.0])])
    if mode != "so3":
        raise ValueError(f"Unknown rotation {mode!r}. Valid: {', '.join(ROTATIONS)}")
    w, x, y, z = tf.unstack(tf.math.l2_normalize(tf.random.stateless_normal([4], seed)))
    return tf.stack([
        tf.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)]),
        tf.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)]),
        tf.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]),
    ])


class PointsProcessor:
    """Turns point clouds into `(num_points, 3)` xyz inside the unit sphere.

    Training samples `num_points` at random (with replacement when a cloud is smaller),
    evaluation takes evenly spaced points (`preprocessing.points_to_model_input`). `align="pca"`
    is preprocessing (training, evaluation and serving: it is saved in the config); the other
    arguments are training augmentations, in this order: rotation, (normalising and alignment,)
    per-axis scaling (along the principal axes when aligned; renormalised), isotropic scaling,
    point dropout, jitter.

    Args:
        num_points: points per example.
        rotate: "none", "z" (about the up axis) or "so3" (any 3-D rotation); `True`/`False` mean
            "z"/"none". With `align="pca"` the rotation comes before the alignment, which undoes it.
        jitter: std of Gaussian noise added to each coordinate in training (0: none), clipped at 3 std.
        scale_range: `(low, high)` random isotropic scaling in training, or `None`.
        axis_scale_range: `(low, high)` random scaling of each axis independently, or `None`.
        point_dropout: up to this fraction of the sampled points (uniform per cloud) are replaced by
            copies of the first one (PointNet++'s random input dropout), or 0.
        align: "none", or "pca": rotate every cloud into its principal axes (`preprocessing.pca_align`).
    """

    modality = "points"
    input_kind = "points"
    bytes_input = "points_bytes"

    def __init__(self, num_points: int = 512, rotate: bool | str = "none", jitter: float = 0.0,
                 scale_range: tuple[float, float] | None = None, axis_scale_range: tuple[float, float] | None = None,
                 point_dropout: float = 0.0, align: str = "none"):
        if num_points < 1:
            raise ValueError(f"`num_points` must be >= 1. Received: num_points={num_points}")
        if isinstance(rotate, bool):
            rotate = "z" if rotate else "none"
        if rotate not in ROTATIONS:
            raise ValueError(f"`rotate` must be one of {', '.join(ROTATIONS)}. Received: rotate={rotate!r}")
        if align not in POINT_ALIGNMENTS:
            raise ValueError(f"`align` must be one of {', '.join(POINT_ALIGNMENTS)}. Received: align={align!r}")
        if not 0.0 <= point_dropout < 1.0:
            raise ValueError(f"`point_dropout` must be in [0, 1). Received: point_dropout={point_dropout}")
        self.config = {"modality": "points", "num_points": int(num_points)}
        if align != "none":
            self.config["align"] = align
        self.rotate, self.jitter, self.scale_range = rotate, float(jitter), scale_range
        self.axis_scale_range, self.point_dropout = axis_scale_range, float(point_dropout)

    @classmethod
    def from_config(cls, config: dict, **augmentation) -> "PointsProcessor":
        """The processor of a model's `metadata["preprocessing"]`, with the training `augmentation`
        (keyword arguments of the constructor: `rotate`, `jitter`, ...) or, without, for evaluation."""
        return cls(config["num_points"], align=config.get("align", "none"), **augmentation)

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
        seeds = tf.random.experimental.stateless_split(seed, 7)
        num_points, count = self.config["num_points"], tf.shape(points)[0]
        index = tf.cond(
            count >= num_points,
            lambda: tf.random.experimental.stateless_shuffle(tf.range(count), seeds[0])[:num_points],
            lambda: tf.random.stateless_uniform([num_points], seeds[0], 0, count, dtype=tf.int32),
        )
        points = tf.gather(points, index)
        if self.rotate != "none":
            points = tf.matmul(points, random_rotation(seeds[1], self.rotate), transpose_b=True)
        points = prepare_points(points, self.config)
        if self.axis_scale_range is not None:  # along the model's axes (the principal axes, when aligned)
            points = normalize_points(points * tf.random.stateless_uniform([3], seeds[5], *self.axis_scale_range))
        if self.scale_range is not None:
            points = points * tf.random.stateless_uniform([], seeds[2], *self.scale_range)
        if self.point_dropout:
            ratio = tf.random.stateless_uniform([], seeds[6], 0.0, self.point_dropout)
            dropped = tf.random.stateless_uniform([num_points], seeds[4]) < ratio
            points = tf.where(dropped[:, None], points[:1], points)
        if self.jitter:
            points = points + tf.clip_by_value(
                tf.random.stateless_normal(tf.shape(points), seeds[3], stddev=self.jitter),
                -3 * self.jitter, 3 * self.jitter)
        return points
