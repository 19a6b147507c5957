"""`VideoAdapter`: `(T, H, W, C)` clips, usually as space-time patches, + 3-D positions."""

from __future__ import annotations

from perceiver_tf.adapters.grid import GridAdapter
from perceiver_tf.layers.common import register


@register
class VideoAdapter(GridAdapter):
    """Video `(T, H, W, C)` with 3-D Fourier features over (time, height, width).

    The paper's AudioSet video input: 32 x 224 x 224 RGB frames cut into 2 x 8 x 8 space-time
    patches (`patch_size=(2, 8, 8)`), a 16 x 28 x 28 grid of 384-channel elements.

    Args:
        input_shape: `(frames, height, width, channels)`.
        **kwargs: `GridAdapter` arguments.
    """

    input_kind = "video"
    example_rank = 4
    layout = "(time, height, width, channels)"
