"""`GridAdapter`: examples on a regular grid (1-D signals, 2-D images, 3-D video)."""

from __future__ import annotations

import keras

from perceiver_tf.adapters.base import InputAdapter
from perceiver_tf.layers import FlattenIndexDims, FourierPositionEncoding, LearnedPositionEncoding
from perceiver_tf.layers.common import register, require_positive_int
from perceiver_tf.layers.patches import ExtractPatches, normalize_patch_size

POSITION_ENCODINGS = ("fourier", "learned", "none")


def position_encoding_layer(
    position_encoding: str,
    dtype,
    name: str,
    num_bands: int = 64,
    max_resolution=None,
    spacing: str = "linear",
    concat_pos: bool = True,
    sine_only: bool = False,
    learned_position_channels: int = 64,
    coordinate_channels: int | None = None,
    learned_position_projection: int | None = None,
) -> keras.layers.Layer:
    """The layer that flattens the grid to `(B, M, C)` and concatenates position features."""
    if position_encoding not in POSITION_ENCODINGS:
        raise ValueError(f"Unknown position_encoding {position_encoding!r}. Valid: {', '.join(POSITION_ENCODINGS)}")
    if position_encoding == "none":
        return FlattenIndexDims(dtype=dtype, name=name)
    if position_encoding == "learned":
        return LearnedPositionEncoding(learned_position_channels, learned_position_projection, dtype=dtype, name=name)
    return FourierPositionEncoding(
        num_bands=num_bands, max_resolution=max_resolution, spacing=spacing, concat_pos=concat_pos,
        sine_only=sine_only, coordinate_channels=coordinate_channels, dtype=dtype, name=name,
    )


@register
class GridAdapter(InputAdapter):
    """`(B, *index_dims, C)` -> [stem] -> [patches] -> position features -> `(B, M, C + P)`.

    Positions come from the grid (`linspace(-1, 1, n)` per axis, after patching), so the
    Fourier features index pixels, time steps, or patches (DeepMind's `ImagePreprocessor` /
    `AudioPreprocessor` with `prep_type="patches"` or `"pixels"`).

    Args:
        input_shape: one example `(*index_dims, channels)`, every axis known.
        patch_size: cut the grid into non-overlapping patches first (`ExtractPatches`): an int
            for every index dim or one per dim, e.g. 128 for raw audio `(61440, 1)` ->
            `(480, 128)`, `(2, 8, 8)` for video. `None`: no patching.
        position_encoding: "fourier" (default), "learned" or "none".
        num_bands, max_resolution, spacing, concat_pos, sine_only: `FourierPositionEncoding`
            (`max_resolution=None`: the (patched) grid's own size).
        learned_position_channels: width of learned position embeddings.
        learned_position_projection: project the learned table to this width (`Dense`) before
            concatenating it; `None`: no projection.

    Returns:
        `(B, M, C')`, `M = prod(index_dims / patch_size)`.
    """

    input_kind = "grid"
    layout = "(*index_dims, channels)"

    def __init__(
        self,
        input_shape,
        patch_size=None,
        position_encoding: str = "fourier",
        num_bands: int = 64,
        max_resolution=None,
        spacing: str = "linear",
        concat_pos: bool = True,
        sine_only: bool = False,
        learned_position_channels: int = 64,
        learned_position_projection: int | None = None,
        **kwargs,
    ):
        super().__init__(input_shape, **kwargs)
        self.patch_size = list(patch_size) if isinstance(patch_size, (list, tuple)) else patch_size
        if patch_size is not None:
            normalize_patch_size(patch_size, len(self.example_shape) - 1)
        self.position_encoding = position_encoding
        self.num_bands = require_positive_int(num_bands, "num_bands")
        self.max_resolution = list(max_resolution) if isinstance(max_resolution, (list, tuple)) else max_resolution
        self.spacing = spacing
        self.concat_pos = bool(concat_pos)
        self.sine_only = bool(sine_only)
        self.learned_position_channels = require_positive_int(learned_position_channels, "learned_position_channels")
        self.learned_position_projection = learned_position_projection
        self.patches = None if patch_size is None else ExtractPatches(patch_size, dtype=self.dtype_policy, name="patches")
        self.positions = position_encoding_layer(
            position_encoding, self.dtype_policy, "position_encoding", num_bands, max_resolution, spacing,
            concat_pos, sine_only, learned_position_channels,
            learned_position_projection=learned_position_projection,
        )

    def stem(self, inputs):
        """Modality-specific features before patching (identity here; e.g. a conv stem for images)."""
        return inputs

    def stem_output_shape(self, inputs_shape) -> tuple:
        return tuple(inputs_shape)

    def _patched_shape(self, inputs_shape) -> tuple:
        shape = self.stem_output_shape(inputs_shape)
        return self.patches.compute_output_shape(shape) if self.patches is not None else shape

    @property
    def element_grid(self) -> tuple[int, ...]:
        return tuple(self._patched_shape((None, *self.example_shape))[1:-1])

    def build(self, inputs_shape):
        super().build(inputs_shape)
        patched = self._patched_shape(inputs_shape)
        if self.patches is not None:
            self.patches.build(self.stem_output_shape(inputs_shape))
        self.positions.build(patched)

    def call(self, inputs):
        x = self.stem(inputs)
        if self.patches is not None:
            x = self.patches(x)
        return self.positions(x)

    def compute_output_shape(self, inputs_shape):
        return self.positions.compute_output_shape(self._patched_shape(inputs_shape))

    def get_config(self):
        config = super().get_config()
        config.update(
            patch_size=self.patch_size,
            position_encoding=self.position_encoding,
            num_bands=self.num_bands,
            max_resolution=self.max_resolution,
            spacing=self.spacing,
            concat_pos=self.concat_pos,
            sine_only=self.sine_only,
            learned_position_channels=self.learned_position_channels,
            learned_position_projection=self.learned_position_projection,
        )
        return config
