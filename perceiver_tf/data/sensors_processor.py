"""Sensor-stream files (CSV / NPY time series) -> fixed-length `(T, C)` model inputs."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from perceiver_tf.data.formats import as_path
from perceiver_tf.data.preprocessing import fixed_length
from perceiver_tf.data.sensors import load_time_series


def _read(path) -> np.ndarray:
    """`tf.numpy_function` body: a recording `(T, C)` with T >= 1 and only finite values."""
    path = as_path(path)
    series = load_time_series(path)
    if len(series) == 0:
        raise ValueError(f"{path}: the recording has no rows")
    if not np.isfinite(series).all():
        raise ValueError(f"{path}: the recording has NaN or infinite values")
    return series


def warp_window(series: tf.Tensor, fraction: float, seed: tf.Tensor) -> tf.Tensor:
    """Window warping (training augmentation): a random window of `(1 - fraction, 1]` of a recording
    `(T, C)`'s length, stretched back to T steps by linear interpolation (at least 2 steps are kept).

    Args:
        series: float32 `(T, C)`, C known.
        fraction: in [0, 1); 0 returns `series`.
        seed: stateless seed, int32 `(2,)`.
    """
    if not fraction:
        return series
    total = tf.shape(series)[0]
    seeds = tf.random.experimental.stateless_split(seed, 2)
    share = tf.random.stateless_uniform([], seeds[0], 1.0 - fraction, 1.0)
    kept = tf.cast(tf.round(share * tf.cast(total, tf.float32)), tf.int32)
    kept = tf.clip_by_value(kept, tf.minimum(2, total), total)
    start = tf.random.stateless_uniform([], seeds[1], 0, total - kept + 1, dtype=tf.int32)
    window = series[start : start + kept]
    return tf.image.resize(window[:, :, None], [total, series.shape[1]])[:, :, 0]


def recording_shape(path: tf.Tensor) -> tf.Tensor:
    """A `.csv` / `.npy` recording's `(T, C)` (int32 `(2,)`), read and checked as `SensorProcessor` reads it."""
    return tf.shape(tf.ensure_shape(tf.numpy_function(_read, [path], tf.float32), [None, None]))


class SensorProcessor:
    """Turns recordings `(T_i, C)` into `(num_steps, C)`: a random crop in training, a centre crop otherwise,
    zero padding when shorter (1-D Fourier features over time follow in the model).

    In training (and only there) each recording may first be augmented: `window_warp` (`warp_window`),
    then a random gain of up to `gain_db` dB either way (all channels alike), then Gaussian noise of
    `jitter` times the recording's standard deviation. Augmentations are not part of the config.

    Args:
        num_steps: time steps per example.
        channels: C, the channel count every recording must have.
        center: subtract each recording's per-channel mean before cropping (static offsets such as
            gravity on an accelerometer, or a sensor's bias, then carry no weight). Preprocessing: saved
            in the config, applied in training, evaluation and serving.
        mask_padding: `prepare` also returns which steps are real, for a model built with
            `use_input_mask=True` that masks the padded steps out of its cross-attention:
            `{"inputs": (num_steps, C), "input_mask": bool (num_steps,)}`. Without it (models
            trained before masks existed), padded zeros are read as data.
        window_warp: training only: `warp_window`'s fraction, in [0, 1).
        gain_db: training only: random gain, dB either way (>= 0).
        jitter: training only: noise standard deviation relative to the recording's (>= 0).
    """

    modality = "sensors"
    input_kind = "sequence"
    bytes_input = "sensor_bytes"

    def __init__(self, num_steps: int, channels: int, center: bool = False, mask_padding: bool = False,
                 window_warp: float = 0.0, gain_db: float = 0.0, jitter: float = 0.0):
        if num_steps < 1 or channels < 1:
            raise ValueError(f"`num_steps` and `channels` must be >= 1. Received: {num_steps}, {channels}")
        if not (0.0 <= window_warp < 1.0 and gain_db >= 0.0 and jitter >= 0.0):
            raise ValueError("`window_warp` must be in [0, 1), `gain_db` and `jitter` >= 0. Received: "
                             f"window_warp={window_warp}, gain_db={gain_db}, jitter={jitter}")
        self.window_warp, self.gain_db, self.jitter = float(window_warp), float(gain_db), float(jitter)
        self.config = {"modality": "sensors", "num_steps": int(num_steps), "channels": int(channels)}
        if center:
            self.config["center"] = True
        if mask_padding:
            self.config["mask_padding"] = True

    @classmethod
    def from_config(cls, config: dict, **augmentation) -> "SensorProcessor":
        """The processor of a model's `metadata["preprocessing"]`, with the training `augmentation`
        (`window_warp`, `gain_db`, `jitter`) or, without, for evaluation."""
        return cls(config["num_steps"], config["channels"], config.get("center", False),
                   config.get("mask_padding", False), **augmentation)

    def with_options(self, options) -> "SensorProcessor":
        """This processor with a run's `DataOptions` (the recipe's choices filled in): centring
        (preprocessing, saved with the model) and the augmentations."""
        return SensorProcessor.from_config({**self.config, **({"center": True} if options.center_recordings else {})},
                                           window_warp=options.window_warp, gain_db=options.gain_db,
                                           jitter=options.jitter)

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.config["num_steps"], self.config["channels"])

    @property
    def masks_padding(self) -> bool:
        """Whether examples come with their step mask (the model then needs `use_input_mask=True`)."""
        return self.config.get("mask_padding", False)

    def decode_file(self, path: tf.Tensor) -> tf.Tensor:
        """A `.csv` / `.npy` file -> float32 `(T, C)` (the cacheable form)."""
        series = tf.numpy_function(_read, [path], tf.float32)
        return tf.ensure_shape(series, [None, self.config["channels"]])

    def decode_bytes(self, encoded: tf.Tensor) -> tf.Tensor:
        """Raw little-endian float32 samples, row-major `(T, C)`, -> `(T, C)` (the serving format)."""
        return tf.reshape(tf.io.decode_raw(encoded, tf.float32), [-1, self.config["channels"]])

    def from_decoded(self, series: tf.Tensor) -> tf.Tensor:
        return tf.cast(series, tf.float32)

    def prepare(self, series: tf.Tensor, training: bool, seed: tf.Tensor) -> tf.Tensor | dict[str, tf.Tensor]:
        """`(T, C)` -> `(num_steps, C)`: centred (when configured), augmented (in training), then cropped or
        zero-padded; with `mask_padding`, `{"inputs": that, "input_mask": bool (num_steps,)}`, True on the
        recording's steps."""
        num_steps = self.config["num_steps"]
        if self.config.get("center", False):
            series = series - tf.reduce_mean(series, axis=0, keepdims=True)
        if training:
            seed, *seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
            series = self.augment(series, seeds)
        example = fixed_length(series, num_steps, seed=seed if training else None)
        if not self.masks_padding:
            return example
        return {"inputs": example, "input_mask": tf.range(num_steps) < tf.shape(series)[0]}

    def augment(self, series: tf.Tensor, seeds: list[tf.Tensor]) -> tf.Tensor:
        """A training recording `(T, C)` window-warped, scaled and jittered (each where its amount is > 0);
        `seeds`: three stateless seeds."""
        series = warp_window(series, self.window_warp, seeds[0])
        if self.gain_db:
            series = series * 10.0 ** (tf.random.stateless_uniform([], seeds[1], -self.gain_db, self.gain_db) / 20.0)
        if self.jitter:
            noise = tf.random.stateless_normal(tf.shape(series), seeds[2])
            series = series + self.jitter * tf.math.reduce_std(series) * noise
        return series
