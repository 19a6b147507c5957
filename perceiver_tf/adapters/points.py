"""`PointsAdapter`: point clouds `(P, 3 + F)` with Fourier features of each point's coordinates."""

from __future__ import annotations

from perceiver_tf.adapters.base import ElementSetAdapter
from perceiver_tf.adapters.grid import position_encoding_layer
from perceiver_tf.layers.common import register, require_positive_int

#: Max resolution when none is given: frequencies 1..16 over coordinates in [-1, 1].
DEFAULT_POINTS_MAX_RESOLUTION = 32


@register
class PointsAdapter(ElementSetAdapter):
    """Point clouds: every point is an element; Fourier features of its xyz are concatenated.

    No grid: positions are the points' own coordinates (the first `coordinate_channels`
    channels, in [-1, 1]), so the model is invariant to the order of the points and the
    number of points may vary (`input_shape=(None, 3)`, with a mask for padding).
    ModelNet40 in the paper: ~2,000 points, 64 bands, max resolution 1120.

    Args:
        input_shape: `(points, 3 + features)`; `points` may be `None`.
        num_bands, max_resolution, spacing, concat_pos, sine_only: `FourierPositionEncoding`
            in coordinate mode (`max_resolution` default 32).
        position_encoding: "fourier" (default) or "none" (raw coordinates only).
        coordinate_channels: how many leading channels are coordinates (3).
    """

    input_kind = "points"
    example_rank = 2
    layout = "(points, 3 + features); channels 0-2 are xyz in [-1, 1]"
    variable_axes = (0,)

    def __init__(
        self,
        input_shape,
        num_bands: int = 64,
        max_resolution=DEFAULT_POINTS_MAX_RESOLUTION,
        spacing: str = "linear",
        concat_pos: bool = True,
        sine_only: bool = False,
        position_encoding: str = "fourier",
        coordinate_channels: int = 3,
        **kwargs,
    ):
        super().__init__(input_shape, **kwargs)
        self.coordinate_channels = require_positive_int(coordinate_channels, "coordinate_channels")
        if self.example_shape[-1] < coordinate_channels:
            raise ValueError(
                f"input_kind='points' needs at least {coordinate_channels} channels (xyz first). "
                f"Received: input_shape={self.example_shape}"
            )
        if position_encoding not in ("fourier", "none"):
            raise ValueError(
                f"input_kind='points' has no fixed layout for position_encoding={position_encoding!r}: use "
                "'fourier' (features of each point's coordinates) or 'none'."
            )
        if max_resolution is None:
            raise ValueError("`max_resolution` is required for points (continuous coordinates have no grid size).")
        self.num_bands = require_positive_int(num_bands, "num_bands")
        self.max_resolution = list(max_resolution) if isinstance(max_resolution, (list, tuple)) else max_resolution
        self.spacing = spacing
        self.concat_pos = bool(concat_pos)
        self.sine_only = bool(sine_only)
        self.position_encoding = position_encoding
        self.positions = position_encoding_layer(
            position_encoding, self.dtype_policy, "position_encoding", num_bands, max_resolution, spacing,
            concat_pos, sine_only, coordinate_channels=coordinate_channels,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            num_bands=self.num_bands, max_resolution=self.max_resolution, spacing=self.spacing,
            concat_pos=self.concat_pos, sine_only=self.sine_only, position_encoding=self.position_encoding,
            coordinate_channels=self.coordinate_channels,
        )
        return config
