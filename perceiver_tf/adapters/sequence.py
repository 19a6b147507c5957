"""`SequenceAdapter`: multichannel time series `(T, C)` (sensor streams, IMU, haptics) + 1-D positions."""

from __future__ import annotations

from perceiver_tf.adapters.grid import GridAdapter
from perceiver_tf.layers.common import register


@register
class SequenceAdapter(GridAdapter):
    """Time series `(T, C)` of any channel count: each time step is an element with 1-D Fourier features.

    Wearable and IMU streams, haptics, or any 1-D signal; variable-length recordings are
    padded to T and masked with the backbone's `use_input_mask=True`.

    Args:
        input_shape: `(time, channels)`.
        **kwargs: `GridAdapter` arguments (`patch_size` groups time steps, `num_bands`, ...).
    """

    input_kind = "sequence"
    example_rank = 2
    layout = "(time, channels)"
