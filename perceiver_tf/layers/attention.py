"""Multi-head dot-product attention: the `attend` primitive of every Perceiver block."""

from __future__ import annotations

import math

import keras
from keras import ops

from perceiver_tf.layers.common import dense_kernel_initializer, register, require_positive_int, require_rate

#: Fill for masked logits. Softmax always runs in float32 here, so a finite -1e9 is exact and
#: safe; -inf would turn fully masked rows into NaN.
MASKED_LOGIT = -1e9


@register
class PerceiverAttention(keras.layers.Layer):
    """Multi-head attention with explicit `1/sqrt(d_head)` scaling (DeepMind: `Attention`).

    Queries come from `query`, keys and values from `value`. Logits and softmax are computed
    in float32 under any dtype policy. Biases are used in every projection.

    Args:
        num_heads: number of heads `h`; must divide `qk_channels` and `v_channels`.
        qk_channels: width of the query/key projections. `None`: the query's channel count.
        v_channels: width of the value projection. `None`: `qk_channels`.
        output_channels: width of the output projection. `None`: `v_channels`.
        attention_dropout_rate: dropout on the attention probabilities (training only).

    Call arguments:
        query: `(B, N, Cq)`.
        value: `(B, M, Ckv)`.
        value_mask: optional bool `(B, M)`; False marks padding. Query rows whose keys are all
            masked get a zero output (not an average of padding).
        return_attention_scores: also return the probabilities `(B, h, N, M)`.
        training: enables attention dropout.

    Returns:
        `(B, N, output_channels)`, and the attention probabilities if requested.
    """

    def __init__(
        self,
        num_heads: int = 1,
        qk_channels: int | None = None,
        v_channels: int | None = None,
        output_channels: int | None = None,
        attention_dropout_rate: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = require_positive_int(num_heads, "num_heads")
        self.qk_channels = qk_channels
        self.v_channels = v_channels
        self.output_channels = output_channels
        self.attention_dropout_rate = require_rate(attention_dropout_rate, "attention_dropout_rate")

    def _resolved_channels(self, query_shape) -> tuple[int, int, int]:
        qk = self.qk_channels or query_shape[-1]
        v = self.v_channels or qk
        out = self.output_channels or v
        for name, width in (("qk_channels", qk), ("v_channels", v)):
            if width % self.num_heads:
                raise ValueError(
                    f"`{name}` must be divisible by `num_heads`. Received: {name}={width}, "
                    f"num_heads={self.num_heads}"
                )
        return qk, v, out

    def build(self, query_shape, value_shape, value_mask_shape=None):
        qk, v, out = self._resolved_channels(query_shape)

        def dense(units, name):
            return keras.layers.Dense(
                units,
                kernel_initializer=dense_kernel_initializer(),
                dtype=self.dtype_policy,
                name=name,
            )

        self.query_dense = dense(qk, "query")
        self.key_dense = dense(qk, "key")
        self.value_dense = dense(v, "value")
        self.output_dense = dense(out, "attention_output")
        self.query_dense.build(query_shape)
        self.key_dense.build(value_shape)
        self.value_dense.build(value_shape)
        self.output_dense.build((*query_shape[:-1], v))
        self.attention_dropout = keras.layers.Dropout(
            self.attention_dropout_rate, dtype=self.dtype_policy, name="attention_dropout"
        )
        self._head_dims = (qk // self.num_heads, v // self.num_heads)

    def _split_heads(self, x, head_dim):
        # (B, T, h * d) -> (B, h, T, d)
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1], self.num_heads, head_dim))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, query, value, value_mask=None, return_attention_scores=False, training=None):
        qk_head_dim, v_head_dim = self._head_dims
        q = self._split_heads(self.query_dense(query), qk_head_dim)
        k = self._split_heads(self.key_dense(value), qk_head_dim)
        v = self._split_heads(self.value_dense(value), v_head_dim)
        # Scale q before the product so half-precision logits stay small.
        q = q * ops.cast(1.0 / math.sqrt(qk_head_dim), q.dtype)
        logits = ops.cast(ops.einsum("bhnd,bhmd->bhnm", q, k), "float32")
        if value_mask is not None:
            keep = ops.cast(value_mask, "bool")[:, None, None, :]
            logits = ops.where(keep, logits, MASKED_LOGIT)
        probabilities = ops.softmax(logits, axis=-1)
        if value_mask is not None:
            any_key = ops.any(keep, axis=-1, keepdims=True)
            probabilities = ops.where(any_key, probabilities, 0.0)
        probabilities = ops.cast(probabilities, self.compute_dtype)
        dropped = self.attention_dropout(probabilities, training=training)
        attended = ops.einsum("bhnm,bhmd->bhnd", dropped, v)
        attended = ops.transpose(attended, (0, 2, 1, 3))
        shape = ops.shape(attended)
        attended = ops.reshape(attended, (shape[0], shape[1], self.num_heads * v_head_dim))
        output = self.output_dense(attended)
        if return_attention_scores:
            return output, probabilities
        return output

    def compute_output_shape(self, query_shape, value_shape, value_mask_shape=None):
        return (*query_shape[:-1], self._resolved_channels(query_shape)[2])

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            qk_channels=self.qk_channels,
            v_channels=self.v_channels,
            output_channels=self.output_channels,
            attention_dropout_rate=self.attention_dropout_rate,
        )
        return config
