"""`ArrayAdapter`: a set of feature vectors `(M, C)` with no positions (fully permutation invariant)."""

from __future__ import annotations

from perceiver_tf.adapters.base import ElementSetAdapter
from perceiver_tf.adapters.grid import position_encoding_layer
from perceiver_tf.layers.common import register, require_positive_int


@register
class ArrayAdapter(ElementSetAdapter):
    """Elements `(M, C)` passed through as they are: tabular rows, precomputed features, tokens.

    With `position_encoding="none"` (default) the model cannot tell elements apart by index,
    so its output is invariant to their order; `"learned"` adds a trainable `(M, P)` table
    (M must then be fixed).

    Args:
        input_shape: `(elements, channels)`; `elements` may be `None` without learned positions.
        position_encoding: "none" or "learned".
        learned_position_channels: P of the learned table.
    """

    input_kind = "array"
    example_rank = 2
    layout = "(elements, channels), no positions"
    variable_axes = (0,)

    def __init__(self, input_shape, position_encoding: str = "none", learned_position_channels: int = 64, **kwargs):
        super().__init__(input_shape, **kwargs)
        if position_encoding == "fourier":
            raise ValueError(
                "input_kind='array' has no positions for Fourier features; use input_kind='sequence' for a 1-D "
                "signal, or position_encoding='none' / 'learned'."
            )
        if position_encoding == "learned" and self.example_shape[0] is None:
            raise ValueError(
                "position_encoding='learned' needs a fixed element count. Received: "
                f"input_shape={self.example_shape}"
            )
        self.position_encoding = position_encoding
        self.learned_position_channels = require_positive_int(learned_position_channels, "learned_position_channels")
        self.positions = position_encoding_layer(
            position_encoding, self.dtype_policy, "position_encoding",
            learned_position_channels=learned_position_channels,
        )

    @property
    def element_grid(self) -> tuple[int, ...] | None:
        return None if self.example_shape[0] is None else (self.example_shape[0],)

    def get_config(self):
        config = super().get_config()
        config.update(position_encoding=self.position_encoding, learned_position_channels=self.learned_position_channels)
        return config
