"""`ImageAdapter`: `(H, W, C)` images, optionally through a convolutional stem, + 2-D positions."""

from __future__ import annotations

import keras
from keras import ops

from perceiver_tf.adapters.grid import GridAdapter
from perceiver_tf.layers.common import register, require_positive_int
from perceiver_tf.layers.conv_downsample import ConvDownsample
from perceiver_tf.layers.pixel_permutation import pixel_permutation

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
        pixel_permutation_seed: the images arrive with their pixels in the fixed order of this seed
            (`--permute-pixels`, `preprocessing.permute_pixels`): the position features are permuted
            alike, so every pixel keeps the features of its original position, as in the paper's
            permuted-ImageNet experiment (the Perceiver is then unaffected by the permutation, up to
            float round-off). Pixels only: no conv stem, no patches. `None`: no permutation.
        **kwargs: `GridAdapter` arguments (`patch_size`, `position_encoding`, `num_bands`, ...).
    """

    input_kind = "image"
    example_rank = 3
    layout = "(height, width, channels)"

    def __init__(self, input_shape, preprocessor: str | None = None, preprocessor_channels: int = 64,
                 conv_pool_padding: str = "same", conv_padding: str = "same",
                 pixel_permutation_seed: int | None = None, **kwargs):
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
        self.pixel_permutation_seed = pixel_permutation_seed
        self.position_order = None
        if pixel_permutation_seed is not None:
            if preprocessor is not None or self.patches is not None:
                raise ValueError("`pixel_permutation_seed` permutes the position features of single pixels: it "
                                 f"needs no conv stem and no patches. Received: preprocessor={preprocessor!r}, "
                                 f"patch_size={self.patch_size!r}")
            height, width = self.example_shape[:2]
            self.position_order = pixel_permutation(height * width, pixel_permutation_seed)

    def stem(self, inputs):
        return inputs if self.conv_stem is None else self.conv_stem(inputs)

    def stem_output_shape(self, inputs_shape) -> tuple:
        return tuple(inputs_shape) if self.conv_stem is None else tuple(self.conv_stem.compute_output_shape(inputs_shape))

    def call(self, inputs):
        elements = super().call(inputs)
        if self.position_order is None:
            return elements
        channels = self.example_shape[-1]
        positions = ops.take(elements[..., channels:], self.position_order, axis=1)
        return ops.concatenate([elements[..., :channels], positions], axis=-1)

    def build(self, inputs_shape):
        if self.conv_stem is not None:
            self.conv_stem.build(inputs_shape)
        super().build(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(preprocessor=self.preprocessor, preprocessor_channels=self.preprocessor_channels,
                      conv_pool_padding=self.conv_pool_padding, conv_padding=self.conv_padding,
                      pixel_permutation_seed=self.pixel_permutation_seed)
        return config
