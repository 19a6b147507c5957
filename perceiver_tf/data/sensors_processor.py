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


def recording_shape(path: tf.Tensor) -> tf.Tensor:
    """A `.csv` / `.npy` recording's `(T, C)` (int32 `(2,)`), read and checked as `SensorProcessor` reads it."""
    return tf.shape(tf.ensure_shape(tf.numpy_function(_read, [path], tf.float32), [None, None]))


class SensorProcessor:
    """Turns recordings `(T_i, C)` into `(num_steps, C)`: a random crop in training, a centre crop otherwise,
    zero padding when shorter (1-D Fourier features over time follow in the model).

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
    """

    modality = "sensors"
    input_kind = "sequence"
    bytes_input = "sensor_bytes"

    def __init__(self, num_steps: int, channels: int, center: bool = False, mask_padding: bool = False):
        if num_steps < 1 or channels < 1:
            raise ValueError(f"`num_steps` and `channels` must be >= 1. Received: {num_steps}, {channels}")
        self.config = {"modality": "sensors", "num_steps": int(num_steps), "channels": int(channels)}
        if center:
            self.config["center"] = True
        if mask_padding:
            self.config["mask_padding"] = True

    @classmethod
    def from_config(cls, config: dict) -> "SensorProcessor":
        return cls(config["num_steps"], config["channels"], config.get("center", False),
                   config.get("mask_padding", False))

    def with_options(self, options) -> "SensorProcessor":
        """This processor with a run's `DataOptions` (the recipe's choices filled in): centring."""
        return SensorProcessor.from_config({**self.config, **({"center": True} if options.center_recordings else {})})

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
        """`(T, C)` -> `(num_steps, C)`: centred (when configured), then cropped or zero-padded; with
        `mask_padding`, `{"inputs": that, "input_mask": bool (num_steps,)}`, True on the recording's steps."""
        num_steps = self.config["num_steps"]
        if self.config.get("center", False):
            series = series - tf.reduce_mean(series, axis=0, keepdims=True)
        example = fixed_length(series, num_steps, seed=seed if training else None)
        if not self.masks_padding:
            return example
        return {"inputs": example, "input_mask": tf.range(num_steps) < tf.shape(series)[0]}
