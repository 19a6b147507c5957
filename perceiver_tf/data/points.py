"""Point-cloud files -> model inputs: sample a fixed number of points, normalise, (align,) augment."""

from __future__ import annotations

import math

import tensorflow as tf

from perceiver_tf.data.errors import DataOptionError
from perceiver_tf.data.point_files import NON_FINITE_POINTS, read_point_file
from perceiver_tf.data.preprocessing import (
    LOCAL_GEOMETRY_FEATURES,
    MIN_GEOMETRY_NEIGHBORS,
    POINT_ALIGNMENTS,
    normalize_points,
    point_rows,
    prepare_points,
    rows_to_model_input,
)
from perceiver_tf.option_names import option, option_name

#: Points per example unless told otherwise (the CLI's recipe chooses them from the clouds' sizes).
DEFAULT_NUM_POINTS = 512
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
        frame_sample: with `align="pca"`, each training cloud's principal-axis frame comes from this
            random fraction of its points (`preprocessing.sampled_principal_frame`), or 0: from all
            points, as in evaluation.
        align: "none", or "pca": rotate every cloud into its principal axes (`preprocessing.pca_align`).
        local_geometry: 0, or k >= `MIN_GEOMETRY_NEIGHBORS`: append each point's
            `preprocessing.local_geometry` features over its k nearest neighbours (how flat,
            edge-like or curved the surface is there, and its normal).
    """

    modality = "points"
    input_kind = "points"
    bytes_input = "points_bytes"

    def __init__(self, num_points: int = DEFAULT_NUM_POINTS, rotate: bool | str = "none", jitter: float = 0.0,
                 scale_range: tuple[float, float] | None = None, axis_scale_range: tuple[float, float] | None = None,
                 point_dropout: float = 0.0, align: str = "none", local_geometry: int = 0,
                 frame_sample: float = 0.0):
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
        if not 0.0 <= frame_sample < 1.0:
            raise ValueError(f"`frame_sample` must be in [0, 1). Received: frame_sample={frame_sample}")
        if frame_sample and align != "pca":
            raise DataOptionError(f"{option_name('frame_sample')} varies the principal-axis frame of "
                                  f"{option('align', 'pca', repr('pca'))}, but {option('align', align, repr(align))}: "
                                  "set both or neither")
        self.config = {"modality": "points", "num_points": int(num_points)}
        if align != "none":
            self.config["align"] = align
        if local_geometry < 0 or 0 < local_geometry < MIN_GEOMETRY_NEIGHBORS:
            raise ValueError(f"`local_geometry` must be 0 (off) or >= {MIN_GEOMETRY_NEIGHBORS} neighbours. "
                             f"Received: local_geometry={local_geometry}")
        if local_geometry:
            self.config["local_geometry"] = int(local_geometry)
        self.rotate, self.jitter, self.scale_range = rotate, float(jitter), scale_range
        self.axis_scale_range, self.point_dropout = axis_scale_range, float(point_dropout)
        self.frame_sample = float(frame_sample)

    @classmethod
    def from_config(cls, config: dict, **augmentation) -> "PointsProcessor":
        """The processor of a model's `metadata["preprocessing"]`, with the training `augmentation`
        (keyword arguments of the constructor: `rotate`, `jitter`, ...) or, without, for evaluation."""
        return cls(config["num_points"], align=config.get("align", "none"),
                   local_geometry=config.get("local_geometry", 0), **augmentation)

    def with_options(self, options) -> "PointsProcessor":
        """This processor with a run's `DataOptions` (the recipe's choices filled in): the point count,
        alignment and local geometry it sets (preprocessing, saved with the model) and the augmentations."""
        config = dict(self.config)
        if options.num_points:
            config["num_points"] = options.num_points
        if options.point_align != "none":
            config["align"] = options.point_align
        if options.local_geometry:
            config["local_geometry"] = options.local_geometry
        return PointsProcessor.from_config(
            config, rotate=options.rotate, jitter=options.jitter, scale_range=options.scale_range,
            axis_scale_range=options.axis_scale_range, point_dropout=options.point_dropout,
            frame_sample=options.frame_sample)

    def redecode(self, previous):
        """How rows cached by `previous` (a processor of the same clouds) become this one's decoded
        rows, or `None` when they already are: local geometry added after the clouds were decoded
        to xyz."""
        if self.config.get("local_geometry") and not previous.config.get("local_geometry"):
            return self.from_decoded
        return None

    @property
    def input_shape(self) -> tuple[int, int]:
        channels = 3 + (LOCAL_GEOMETRY_FEATURES if self.config.get("local_geometry") else 0)
        return (self.config["num_points"], channels)

    def decode_bytes(self, encoded: tf.Tensor) -> tf.Tensor:
        """Raw little-endian float32 xyz triples -> `(n, 3)` (the serving format: `points.astype("<f4").tobytes()`)."""
        return self.from_decoded(tf.reshape(tf.io.decode_raw(encoded, tf.float32), [-1, 3]))

    def decode_file(self, path: tf.Tensor) -> tf.Tensor:
        """File path -> the cacheable `preprocessing.point_rows`: float32 `(n, 3)`, or `(m, 9)` with local geometry."""
        points = tf.ensure_shape(tf.numpy_function(read_point_file, [path], tf.float32), [None, 3])
        return point_rows(points, self.config)

    def from_decoded(self, points: tf.Tensor) -> tf.Tensor:
        """`(n, >= 3)` coordinates -> `preprocessing.point_rows`; NaN or infinite coordinates are an error."""
        return point_rows(tf.debugging.assert_all_finite(tf.cast(points[:, :3], tf.float32), NON_FINITE_POINTS),
                          self.config)

    def prepare(self, rows: tf.Tensor, training: bool, seed: tf.Tensor) -> tf.Tensor:
        """Decoded rows (`point_rows`) -> `(num_points, 3)` (`(num_points, 3 + LOCAL_GEOMETRY_FEATURES)`
        with local geometry); random sampling and augmentation in training. The local geometry was
        computed over the whole cloud when it was decoded, and the cloud is then normalised and
        aligned as a whole before the sample is drawn; a rotation turns its normals with the xyz, the
        later augmentations (scaling, dropout, jitter) move the xyz only."""
        if not training:
            return rows_to_model_input(rows, self.config)
        seeds = tf.random.experimental.stateless_split(seed, 8)
        num_points, count = self.config["num_points"], tf.shape(rows)[0]
        index = tf.cond(
            count >= num_points,
            lambda: tf.random.experimental.stateless_shuffle(tf.range(count), seeds[0])[:num_points],
            lambda: tf.random.stateless_uniform([num_points], seeds[0], 0, count, dtype=tf.int32),
        )
        if self.rotate != "none":
            rows = self._turn(rows, random_rotation(seeds[1], self.rotate))
        if self.config.get("local_geometry"):  # normalised and aligned as the whole cloud (see rows_to_model_input)
            rows = tf.gather(prepare_points(rows, self.config, self.frame_sample, seeds[7]), index)
        else:
            rows = prepare_points(tf.gather(rows, index), self.config, self.frame_sample, seeds[7])
        points, features = rows[:, :3], rows[:, 3:]
        if self.axis_scale_range is not None:  # along the model's axes (the principal axes, when aligned)
            points = normalize_points(points * tf.random.stateless_uniform([3], seeds[5], *self.axis_scale_range))
        if self.scale_range is not None:
            points = points * tf.random.stateless_uniform([], seeds[2], *self.scale_range)
        if self.point_dropout:
            ratio = tf.random.stateless_uniform([], seeds[6], 0.0, self.point_dropout)
            dropped = tf.random.stateless_uniform([num_points], seeds[4]) < ratio
            points = tf.where(dropped[:, None], points[:1], points)
            features = tf.where(dropped[:, None], features[:1], features)
        if self.jitter:
            points = points + tf.clip_by_value(
                tf.random.stateless_normal(tf.shape(points), seeds[3], stddev=self.jitter),
                -3 * self.jitter, 3 * self.jitter)
        return tf.concat([points, features], axis=-1)

    def _turn(self, rows: tf.Tensor, rotation: tf.Tensor) -> tf.Tensor:
        """Decoded rows with their xyz (and local geometry's normals) turned by a `(3, 3)` rotation."""
        turn = lambda vectors: tf.matmul(vectors, rotation, transpose_b=True)  # noqa: E731
        if not self.config.get("local_geometry"):
            return turn(rows)
        return tf.concat([turn(rows[:, :3]), rows[:, 3:6], turn(rows[:, 6:9])], axis=-1)
