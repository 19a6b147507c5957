"""Classification head: mean over the latents, then one Dense layer."""

from __future__ import annotations

import keras
from keras import ops

from perceiver_tf.layers.common import register, require_positive_int


@register
class ClassificationHead(keras.layers.Layer):
    """`logits = Dense(mean_n latents[:, n])`; zero-initialised kernel as in DeepMind's code.

    Args:
        num_classes: output width.
        activation: `None` for logits (default), or e.g. "softmax" / "sigmoid".
        kernel_initializer: "zeros" (DeepMind) or any Keras initializer.

    Call arguments:
        latents: `(B, N, D)`.

    Returns:
        `(B, num_classes)`, always float32 (also under mixed precision).
    """

    def __init__(self, num_classes: int, activation=None, kernel_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.num_classes = require_positive_int(num_classes, "num_classes")
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.dense = keras.layers.Dense(
            num_classes, kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy, name="logits"
        )

    def build(self, latents_shape):
        self.dense.build((latents_shape[0], latents_shape[-1]))

    def call(self, latents):
        pooled = ops.mean(latents, axis=1)
        return self.activation(ops.cast(self.dense(pooled), "float32"))

    def compute_output_shape(self, latents_shape):
        return (latents_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            activation=keras.activations.serialize(self.activation),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
