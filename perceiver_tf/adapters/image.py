"""`ImageAdapter`: `(H, W, C)` images, optionally through a convolutional stem, + 2-D positions."""

from __future__ import annotations

import keras

from perceiver_tf.adapters.grid import GridAdapter
from perceiver_tf.layers.common import register, require_positive_int
from perceiver_tf.layers.conv_downsample import ConvDownsample

PREPROCESSORS = (None, "conv", "conv1x1")


@register
class ImageAdapter(GridAdapter):
    """Images `(H, W, C)`: pixels (or patches, or conv features) + 2-D Fourier features.

    The paper's ImageNet input: 224 x 224 x 3 pixels + 2 x (2 x 64 + 1) position channels = 261.
    Perceiver IO's variants are `preprocessor="conv"` (`ConvDownsample`: 4x smaller grid, 64
    channels) and `preprocessor="conv1x1"` (a 1x1 conv to `preprocessor_channels`, usually with
    learned positions), as DeepMind's `ImagePreprocessor(prep_type=...)`.

    Args:
        input_shape: `(H, W, C)`.
        preprocessor: `None` (pixels), "conv" or "conv1x1".
        preprocessor_channels: output channels of the conv stem.
        conv_pool_padding: "same" (DeepMind) or "valid" (transformers) for the "conv" stem's max-pool.
        conv_padding: "same" (DeepMind) or "symmetric" (transformers) for the "conv" stem's 7x7 conv.
        **kwargs: `GridAdapter` arguments (`patch_size`, `position_encoding`, `num_bands`, ...).
    """

    input_kind = "image"
    example_rank = 3
    layout = "(height, width, channels)"

    def __init__(self, input_shape, preprocessor: str | None = None, preprocessor_channels: int = 64,
                 conv_pool_padding: str = "same", conv_padding: str = "same", **kwargs):
        super().__init__(input_shape, **kwargs)
        if preprocessor not in PREPROCESSORS:
            raise ValueError(f"Unknown preprocessor {preprocessor!r}. Valid: None, 'conv', 'conv1x1'")
        self.preprocessor = preprocessor
        self.preprocessor_channels = require_positive_int(preprocessor_channels, "preprocessor_channels")
        self.conv_pool_padding = conv_pool_padding
        self.conv_padding = conv_padding
        if preprocessor == "conv":
            self.conv_stem = ConvDownsample(preprocessor_channels, pool_padding=conv_pool_padding,
                                            conv_padding=conv_padding, dtype=self.dtype_policy, name="conv_stem")
        elif preprocessor == "conv1x1":
            self.conv_stem = keras.layers.Conv2D(preprocessor_channels, 1, dtype=self.dtype_policy, name="conv_stem")
        else:
            self.conv_stem = None

    def stem(self, inputs):
        return inputs if self.conv_stem is None else self.conv_stem(inputs)

    def stem_output_shape(self, inputs_shape) -> tuple:
        return tuple(inputs_shape) if self.conv_stem is None else tuple(self.conv_stem.compute_output_shape(inputs_shape))

    def build(self, inputs_shape):
        if self.conv_stem is not None:
            self.conv_stem.build(inputs_shape)
        super().build(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(preprocessor=self.preprocessor, preprocessor_channels=self.preprocessor_channels,
                      conv_pool_padding=self.conv_pool_padding, conv_padding=self.conv_padding)
        return config
