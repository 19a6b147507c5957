"""The Perceiver's position-wise MLP: Dense(D -> w*D) -> GELU -> Dense(w*D -> D)."""

from __future__ import annotations

import keras
from keras import ops

from perceiver_tf.layers.common import dense_kernel_initializer, register, require_positive_int, require_rate


@register
class MLP(keras.layers.Layer):
    """Two Dense layers with a GELU between them (DeepMind: `MLP`).

    The enclosing block owns the LayerNorm and the residual connection.

    Args:
        widening_factor: hidden width = `widening_factor * D` (1 in the Perceiver ImageNet config).
        dropout_rate: dropout on the output (training only).
        gelu_approximate: use the tanh approximation of GELU (DeepMind's JAX default) instead of
            the exact erf form (the paper's GELU).

    Call arguments:
        inputs: `(B, T, D)`.

    Returns:
        `(B, T, D)`.
    """

    def __init__(
        self,
        widening_factor: int = 1,
        dropout_rate: float = 0.0,
        gelu_approximate: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.widening_factor = require_positive_int(widening_factor, "widening_factor")
        self.dropout_rate = require_rate(dropout_rate, "dropout_rate")
        self.gelu_approximate = bool(gelu_approximate)

    def build(self, inputs_shape):
        channels = inputs_shape[-1]
        self.hidden_dense = keras.layers.Dense(
            self.widening_factor * channels,
            kernel_initializer=dense_kernel_initializer(),
            dtype=self.dtype_policy,
            name="hidden",
        )
        self.output_dense = keras.layers.Dense(
            channels,
            kernel_initializer=dense_kernel_initializer(),
            dtype=self.dtype_policy,
            name="output",
        )
        self.dropout = keras.layers.Dropout(self.dropout_rate, dtype=self.dtype_policy, name="dropout")
        self.hidden_dense.build(inputs_shape)
        self.output_dense.build((*inputs_shape[:-1], self.widening_factor * channels))

    def call(self, inputs, training=None):
        hidden = ops.gelu(self.hidden_dense(inputs), approximate=self.gelu_approximate)
        return self.dropout(self.output_dense(hidden), training=training)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            widening_factor=self.widening_factor,
            dropout_rate=self.dropout_rate,
            gelu_approximate=self.gelu_approximate,
        )
        return config
