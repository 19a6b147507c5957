"""Pad one modality's byte array to a common width with a learned modality embedding."""

from __future__ import annotations

import keras
from keras import ops

from perceiver_tf.layers.common import LATENT_INIT_STDDEV, register, require_positive_int


@register
class ModalityPadding(keras.layers.Layer):
    """Concatenate a learned per-modality vector to every element (DeepMind: `MultimodalPreprocessor`).

    The appended vector is both the padding up to the common width and the modality embedding:
    it is the same for every element of the modality and differs between modalities, so the
    latents can tell audio patches from video patches once they share one byte array.

    Args:
        num_channels: the common width every modality is padded to.

    Call arguments:
        inputs: `(B, M, C)` with `C < num_channels`.

    Returns:
        `(B, M, num_channels)`: `[inputs, embedding]`, embedding width `num_channels - C`.
    """

    def __init__(self, num_channels: int, **kwargs):
        super().__init__(**kwargs)
        self.num_channels = require_positive_int(num_channels, "num_channels")

    def build(self, inputs_shape):
        width = self.num_channels - inputs_shape[-1]
        if width < 1:
            raise ValueError(
                f"{self.name}: `num_channels` must exceed the input's {inputs_shape[-1]} channels to "
                f"leave room for the modality embedding. Received: num_channels={self.num_channels}"
            )
        self.embedding = self.add_weight(
            shape=(width,),
            initializer=keras.initializers.TruncatedNormal(stddev=LATENT_INIT_STDDEV),
            name="embedding",
        )

    def call(self, inputs):
        embedding = ops.cast(self.embedding, inputs.dtype)
        shape = ops.shape(inputs)
        embedding = ops.broadcast_to(embedding[None, None], (shape[0], shape[1], embedding.shape[0]))
        return ops.concatenate([inputs, embedding], axis=-1)

    def compute_output_shape(self, inputs_shape):
        return (*inputs_shape[:-1], self.num_channels)

    def get_config(self):
        config = super().get_config()
        config.update(num_channels=self.num_channels)
        return config
