"""Convolutional stems that run before the position features (DeepMind's image `prep_type`)."""

from __future__ import annotations

import keras

from perceiver_tf.layers.common import register, require_positive_int

PADDINGS = ("same", "valid")
#: The 7x7 conv's padding: "same" (TensorFlow's, DeepMind's: 2 before / 3 after for stride 2 on an
#: even side) or "symmetric" (3 on every side: transformers' `Conv2dSamePadding`).
CONV_PADDINGS = ("same", "symmetric")


@register
class ConvDownsample(keras.layers.Layer):
    """7x7 stride-2 conv (no bias) -> BatchNorm -> ReLU -> 3x3 stride-2 max-pool (DeepMind: `Conv2DDownsample`).

    Downsamples an image 4x per spatial axis (224 -> 56), as in the Perceiver IO ImageNet
    model with convolutional preprocessing (82.1% top-1).

    Args:
        channels: conv output channels (64 in DeepMind's config).
        use_batchnorm: BatchNorm after the conv (epsilon 1e-5, momentum 0.9, as DeepMind's).
        pool_padding: "same" (DeepMind's `hk.max_pool`) or "valid" (transformers' `nn.MaxPool2d(3, 2)`,
            one pixel smaller).
        conv_padding: "same" (DeepMind's) or "symmetric" (transformers'), see `CONV_PADDINGS`; the two
            place the stride-2 sampling grid one pixel apart, so converted weights give different outputs.

    Call arguments:
        inputs: `(B, H, W, C)`.

    Returns:
        `(B, H', W', channels)`.
    """

    def __init__(self, channels: int = 64, use_batchnorm: bool = True, pool_padding: str = "same",
                 conv_padding: str = "same", **kwargs):
        super().__init__(**kwargs)
        if pool_padding not in PADDINGS:
            raise ValueError(f"`pool_padding` must be one of {PADDINGS}. Received: pool_padding={pool_padding!r}")
        if conv_padding not in CONV_PADDINGS:
            raise ValueError(f"`conv_padding` must be one of {CONV_PADDINGS}. Received: conv_padding={conv_padding!r}")
        self.channels = require_positive_int(channels, "channels")
        self.use_batchnorm = bool(use_batchnorm)
        self.pool_padding = pool_padding
        self.conv_padding = conv_padding
        self.pad = (keras.layers.ZeroPadding2D(3, dtype=self.dtype_policy, name="pad") if conv_padding == "symmetric"
                    else None)
        self.conv = keras.layers.Conv2D(channels, 7, strides=2, padding="same" if self.pad is None else "valid",
                                        use_bias=False, dtype=self.dtype_policy, name="conv")
        self.batchnorm = (keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, dtype=self.dtype_policy,
                                                          name="batchnorm") if use_batchnorm else None)
        self.pool = keras.layers.MaxPooling2D(3, strides=2, padding=pool_padding, dtype=self.dtype_policy, name="pool")

    def _padded_shape(self, inputs_shape):
        return inputs_shape if self.pad is None else self.pad.compute_output_shape(inputs_shape)

    def build(self, inputs_shape):
        self.conv.build(self._padded_shape(inputs_shape))
        conv_shape = self.conv.compute_output_shape(self._padded_shape(inputs_shape))
        if self.batchnorm is not None:
            self.batchnorm.build(conv_shape)
        self.pool.build(conv_shape)

    def call(self, inputs, training=None):
        x = self.conv(inputs if self.pad is None else self.pad(inputs))
        if self.batchnorm is not None:
            x = self.batchnorm(x, training=training)
        return self.pool(keras.ops.relu(x))

    def compute_output_shape(self, inputs_shape):
        return self.pool.compute_output_shape(self.conv.compute_output_shape(self._padded_shape(inputs_shape)))

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, use_batchnorm=self.use_batchnorm, pool_padding=self.pool_padding,
                      conv_padding=self.conv_padding)
        return config
