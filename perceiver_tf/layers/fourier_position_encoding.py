"""Fourier position features concatenated to the inputs (the Perceiver's default encoding)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from perceiver_tf.layers.common import register, require_positive_int
from perceiver_tf.layers.index_dims import flatten_index_dims, flattened_shape, static_index_dims

SPACINGS = ("linear", "log")


def linear_positions(index_dims: Sequence[int], output_range=(-1.0, 1.0)) -> np.ndarray:
    """Grid coordinates, `linspace(-1, 1, n)` per axis, shape `(*index_dims, len(index_dims))`."""
    axes = [np.linspace(*output_range, num=n, endpoint=True, dtype=np.float32) for n in index_dims]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)


def fourier_frequencies(num_bands: int, max_resolution: Sequence[int], spacing: str = "linear") -> np.ndarray:
    """Frequencies `f_k`, k = 1..K, from 1 to `max_resolution / 2` per axis, shape `(d, K)`.

    `spacing="linear"` is the paper's equation and DeepMind's code; `"log"` is the log-uniform
    sampling described in the paper's text.
    """
    if spacing not in SPACINGS:
        raise ValueError(f"`spacing` must be one of {SPACINGS}. Received: spacing={spacing!r}")
    if spacing == "linear":
        bands = [np.linspace(1.0, res / 2.0, num=num_bands, endpoint=True) for res in max_resolution]
    else:
        bands = [np.geomspace(1.0, res / 2.0, num=num_bands, endpoint=True) for res in max_resolution]
    return np.stack(bands, axis=0).astype(np.float32)


def num_fourier_channels(num_dims: int, num_bands: int, concat_pos: bool = True, sine_only: bool = False) -> int:
    """Channels of `fourier_features`: `d * (K * (1 if sine_only else 2) + concat_pos)`."""
    return num_dims * (num_bands * (1 if sine_only else 2) + int(concat_pos))


def fourier_features(positions, frequencies: np.ndarray, concat_pos: bool = True, sine_only: bool = False):
    """Fourier features of `positions` `(..., d)`, as in DeepMind's `generate_fourier_features`.

    Channel order: `[x_1..x_d, sin(pi f_k x_i) (i-major, k-minor), cos(pi f_k x_i) (same)]`,
    `d * (2K + 1)` channels with the defaults.
    """
    positions = ops.convert_to_tensor(positions, dtype="float32")
    num_dims, num_bands = frequencies.shape
    # expand_dims, not [..., None]: a builtin TFLite op also when the element count is unknown.
    scaled = ops.expand_dims(positions, -1) * ops.convert_to_tensor(frequencies)
    scaled = ops.reshape(scaled, (*ops.shape(positions)[:-1], num_dims * num_bands)) * np.pi
    features = [ops.sin(scaled)] if sine_only else [ops.sin(scaled), ops.cos(scaled)]
    if concat_pos:
        features = [positions] + features
    return ops.concatenate(features, axis=-1)


@register
class FourierPositionEncoding(keras.layers.Layer):
    """Concatenates Fourier position features to every input element.

    Grid mode (default): inputs `(B, *index_dims, C)` (1-D audio, 2-D images, 3-D video); each
    axis is laid out as `linspace(-1, 1, n)`. Coordinate mode (`coordinate_channels=d`): inputs
    `(B, M, C)` whose first `d` channels are coordinates in [-1, 1] (point clouds); M may vary.

    Args:
        num_bands: K, frequency bands per axis (64 in the paper).
        max_resolution: mu per axis (int or one per axis); frequencies run from 1 to mu/2.
            `None`: the grid's own size (grid mode only).
        spacing: "linear" (paper's equation, DeepMind's code) or "log" (paper's text).
        concat_pos: include the raw coordinates `x_d`.
        sine_only: drop the cosine features.
        coordinate_channels: number of leading input channels that are coordinates.

    Call arguments:
        inputs: `(B, *index_dims, C)`, or `(B, M, C)` in coordinate mode.

    Returns:
        `(B, M, C + P)`, `P = d * (2K + 1)` with the defaults (261 channels at 224x224x3).
    """

    def __init__(
        self,
        num_bands: int = 64,
        max_resolution: int | Sequence[int] | None = None,
        spacing: str = "linear",
        concat_pos: bool = True,
        sine_only: bool = False,
        coordinate_channels: int | None = None,
        **kwargs,
    ):
        # Under mixed precision Keras would cast the inputs to float16/bfloat16 before `call`,
        # and coordinates times frequencies up to mu/2 (560 for ModelNet40) would then give
        # random phases. The inputs stay as given; only the output is cast.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.num_bands = require_positive_int(num_bands, "num_bands")
        if spacing not in SPACINGS:
            raise ValueError(f"`spacing` must be one of {SPACINGS}. Received: spacing={spacing!r}")
        if coordinate_channels is not None:
            require_positive_int(coordinate_channels, "coordinate_channels")
            if max_resolution is None:
                raise ValueError(
                    "`max_resolution` is required with `coordinate_channels` (continuous "
                    "coordinates have no grid size to default to)."
                )
        self.max_resolution = list(max_resolution) if isinstance(max_resolution, (list, tuple)) else max_resolution
        self.spacing = spacing
        self.concat_pos = bool(concat_pos)
        self.sine_only = bool(sine_only)
        self.coordinate_channels = coordinate_channels

    def _num_dims(self, inputs_shape) -> int:
        return self.coordinate_channels or len(inputs_shape) - 2

    def _resolutions(self, default: Sequence[int] | None, num_dims: int) -> list[int]:
        resolution = self.max_resolution if self.max_resolution is not None else default
        if isinstance(resolution, (int, float)):
            return [resolution] * num_dims
        if len(resolution) != num_dims:
            raise ValueError(
                f"`max_resolution` needs one value per position axis ({num_dims}). "
                f"Received: max_resolution={self.max_resolution!r}"
            )
        return list(resolution)

    @property
    def num_position_channels(self) -> int:
        """P, the number of channels this layer appends (valid once built)."""
        return num_fourier_channels(self._frequencies.shape[0], self.num_bands, self.concat_pos, self.sine_only)

    def build(self, inputs_shape):
        if self.coordinate_channels is None:
            index_dims = static_index_dims(inputs_shape, self.name)
            self._grid_positions = linear_positions(index_dims).reshape(-1, len(index_dims))
            resolutions = self._resolutions(index_dims, len(index_dims))
        else:
            if len(inputs_shape) != 3 or inputs_shape[-1] < self.coordinate_channels:
                raise ValueError(
                    f"With coordinate_channels={self.coordinate_channels}, {self.name} expects "
                    "inputs (batch, elements, channels) whose leading channels are coordinates. "
                    f"Received: inputs.shape={tuple(inputs_shape)}"
                )
            resolutions = self._resolutions(None, self.coordinate_channels)
        self._frequencies = fourier_frequencies(self.num_bands, resolutions, self.spacing)

    def call(self, inputs):
        flat = flatten_index_dims(inputs)
        if self.coordinate_channels is None:
            features = fourier_features(self._grid_positions, self._frequencies, self.concat_pos, self.sine_only)
            features = ops.broadcast_to(features[None], (ops.shape(flat)[0], *features.shape))
        else:
            # float32 coordinates (see __init__): sin/cos of float16 phases would be noise.
            coordinates = ops.cast(flat[..., : self.coordinate_channels], "float32")
            features = fourier_features(coordinates, self._frequencies, self.concat_pos, self.sine_only)
        dtype = self.compute_dtype
        return ops.concatenate([ops.cast(flat, dtype), ops.cast(features, dtype)], axis=-1)

    def compute_output_shape(self, inputs_shape):
        """Known before `build` too: the position axes are the coordinates, or the index axes `(B, *index, C)`."""
        batch, elements, channels = flattened_shape(inputs_shape)
        axes = self.coordinate_channels or len(inputs_shape) - 2
        return (batch, elements, channels + num_fourier_channels(axes, self.num_bands, self.concat_pos, self.sine_only))

    def get_config(self):
        config = super().get_config()
        config.update(
            num_bands=self.num_bands,
            max_resolution=self.max_resolution,
            spacing=self.spacing,
            concat_pos=self.concat_pos,
            sine_only=self.sine_only,
            coordinate_channels=self.coordinate_channels,
        )
        return config
