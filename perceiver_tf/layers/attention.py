"""Multi-head dot-product attention: the `attend` primitive of every Perceiver block.

Three numerically equivalent paths compute `softmax(q k^T / sqrt(d)) v`:

- explicit (default): materialises the `(B, h, N, M)` logits; the only path that can return
  the attention probabilities or apply attention dropout.
- chunked (`attention_chunk_size`): streams over the keys in chunks with an online softmax
  (running max, normaliser and weighted sum, Milakov & Gimelshein 2018), projecting keys and
  values chunk by chunk, so the logits held at once are `(B, h, N, chunk)` and only the raw
  inputs are held whole: cross-attention over M = 1,000,000 inputs fits in memory. In training
  the backward pass recomputes each chunk instead of storing it (`chunked_attention`), so the
  training step's memory is bounded the same way. (TensorFlow's while loop may overlap up to
  10 iterations, so the bound is a few chunks, still independent of M.)
- fused (`use_fused_attention`): `keras.ops.dot_product_attention`, which is cuDNN flash
  attention on a GPU under the JAX backend when the shapes allow it.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from perceiver_tf.layers.chunked_attention import MASKED_LOGIT, chunked_attention, heads_and_queries_axes
from perceiver_tf.layers.common import (
    dense_kernel_initializer,
    register,
    require_optional_positive_int,
    require_positive_int,
    require_rate,
)


def attention_scores_spec(query_shape, value_shape, num_heads: int, dtype) -> keras.KerasTensor:
    """The symbolic attention probabilities `(B, heads, N, M)` of queries `(B, N, .)` and keys `(B, M, .)`."""
    return keras.KerasTensor((query_shape[0], num_heads, query_shape[1], value_shape[1]), dtype=dtype)


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
        attention_chunk_size: `None` (default) or a positive int: process the keys in chunks
            of this many elements with an online softmax, bounding the logits held at once to
            `(B, h, N, attention_chunk_size)`. Used when the key length exceeds it.
        use_fused_attention: compute attention with `keras.ops.dot_product_attention` (flash
            attention where the backend and shapes allow) when the query/key and value head
            widths are equal.

    The explicit path is always used when `return_attention_scores=True` or when attention
    dropout is active (training with `attention_dropout_rate > 0`): neither the chunked nor
    the fused path materialises the probabilities. All paths agree to float32 round-off.

    Call arguments:
        query: `(B, N, Cq)`.
        value: `(B, M, Ckv)`.
        value_mask: optional bool `(B, M)`; False marks padding. Query rows whose keys are all
            masked get a zero output (not an average of padding).
        return_attention_scores: also return the probabilities `(B, h, N, M)`.
        training: enables attention dropout.
        value_norm: optional LayerNorm applied to `value` first; on the chunked path it runs
            chunk by chunk inside the loop (never over all M at once).
        keys_values: optional `keys_and_values(value, value_norm)` computed before (a shared
            cross-attend reading the same inputs again); used where `projects_keys_whole`.

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
        attention_chunk_size: int | None = None,
        use_fused_attention: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = require_positive_int(num_heads, "num_heads")
        self.qk_channels = qk_channels
        self.v_channels = v_channels
        self.output_channels = output_channels
        self.attention_dropout_rate = require_rate(attention_dropout_rate, "attention_dropout_rate")
        self.attention_chunk_size = require_optional_positive_int(
            attention_chunk_size, "attention_chunk_size"
        )
        self.use_fused_attention = bool(use_fused_attention)

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
        # (B, T, h * d) -> (B, T, h, d)
        shape = ops.shape(x)
        return ops.reshape(x, (shape[0], shape[1], self.num_heads, head_dim))

    def keys_and_values(self, value, value_norm=None):
        """`value` `(B, M, Ckv)` (through `value_norm` first, if given) -> keys `(B, M, h, d)`, values `(B, M, h, dv)`."""
        if value_norm is not None:
            value = value_norm(value)
        qk_head_dim, v_head_dim = self._head_dims
        return (self._split_heads(self.key_dense(value), qk_head_dim),
                self._split_heads(self.value_dense(value), v_head_dim))

    def projects_keys_whole(self, key_length) -> bool:
        """Whether a call over `key_length` keys projects them all at once (not chunk by chunk), i.e.
        can take precomputed `keys_values`."""
        return not self._use_chunks(key_length)

    def _use_chunks(self, key_length) -> bool:
        if self.attention_chunk_size is None:
            return False
        # An unknown (traced) length is chunked: the loop handles any length.
        return not isinstance(key_length, int) or key_length > self.attention_chunk_size

    def call(self, query, value, value_mask=None, return_attention_scores=False, training=None, value_norm=None,
             keys_values=None):
        qk_head_dim, v_head_dim = self._head_dims
        q = self._split_heads(self.query_dense(query), qk_head_dim)
        keep = None if value_mask is None else ops.cast(value_mask, "bool")
        # Attention scores to return, or to drop out, need the explicit path's probabilities.
        needs_probabilities = return_attention_scores or (bool(training) and self.attention_dropout_rate > 0)
        probabilities = None
        if not needs_probabilities and self._use_chunks(ops.shape(value)[1]):
            # Keys and values are projected chunk by chunk too: only the raw inputs are whole.
            attended = self._chunked_attend(q, value, keep, training, value_norm)
        else:
            k, v = keys_values if keys_values is not None else self.keys_and_values(value, value_norm)
            if not needs_probabilities and self.use_fused_attention and qk_head_dim == v_head_dim:
                attended = self._fused_attend(q, k, v, keep)
            else:
                attended, probabilities = self._explicit_attend(q, k, v, keep, training)
        shape = ops.shape(attended)
        attended = ops.reshape(attended, (shape[0], shape[1], self.num_heads * v_head_dim))
        output = self.output_dense(attended)
        if return_attention_scores:
            return output, probabilities
        return output

    def _scaled(self, q):
        # Scale q before the product so half-precision logits stay small.
        return q * ops.cast(1.0 / math.sqrt(self._head_dims[0]), q.dtype)

    def _explicit_attend(self, q, k, v, keep, training):
        """q `(B, N, h, d)`, k `(B, M, h, d)`, v `(B, M, h, dv)` -> `(B, N, h, dv)`, probs."""
        logits = ops.cast(ops.einsum("bnhd,bmhd->bhnm", self._scaled(q), k), "float32")
        if keep is not None:
            keep = heads_and_queries_axes(keep)
            logits = ops.where(keep, logits, MASKED_LOGIT)
        probabilities = ops.softmax(logits, axis=-1)
        if keep is not None:
            any_key = ops.any(keep, axis=-1, keepdims=True)
            probabilities = ops.where(any_key, probabilities, 0.0)
        probabilities = ops.cast(probabilities, self.compute_dtype)
        dropped = self.attention_dropout(probabilities, training=training)
        return ops.einsum("bhnm,bmhd->bnhd", dropped, v), probabilities

    def _chunked_attend(self, q, value, keep, training, value_norm):
        """Online-softmax attention over chunks of `value` `(B, M, Ckv)` -> `(B, N, h, dv)`.

        In training the gradient recomputes each chunk (`chunked_attention`), so memory does
        not grow with the number of chunks in the backward pass either. `value_norm` (a
        LayerNorm) is applied chunk by chunk as well.
        """
        dtype = self.compute_dtype
        input_norm = None
        if value_norm is not None:
            input_norm = (ops.cast(value_norm.gamma, "float32"), ops.cast(value_norm.beta, "float32"), value_norm.epsilon)
        weights = ops.ones(ops.shape(value)[:2], "float32") if keep is None else ops.cast(keep, "float32")
        attended = chunked_attention(
            self._scaled(q),
            value,
            weights,
            *(ops.cast(w, dtype) for w in (self.key_dense.kernel, self.key_dense.bias,
                                           self.value_dense.kernel, self.value_dense.bias)),
            num_heads=self.num_heads,
            chunk_size=self.attention_chunk_size,
            recompute_gradients=bool(training),
            input_norm=input_norm,
        )
        return ops.transpose(ops.cast(attended, dtype), (0, 2, 1, 3))

    def _fused_attend(self, q, k, v, keep):
        """`keras.ops.dot_product_attention`; same shapes as `_explicit_attend`."""
        mask = None if keep is None else heads_and_queries_axes(keep)
        attended = ops.dot_product_attention(
            q, k, v, mask=mask, scale=1.0 / math.sqrt(self._head_dims[0])
        )
        if keep is not None:
            any_key = heads_and_queries_axes(ops.any(keep, axis=-1, keepdims=True))
            attended = ops.where(any_key, attended, ops.zeros_like(attended))
        return attended

    def compute_output_shape(self, query_shape, value_shape, value_mask_shape=None):
        return (*query_shape[:-1], self._resolved_channels(query_shape)[2])

    def compute_output_spec(self, query, value, value_mask=None, return_attention_scores=False, training=None):
        output = keras.KerasTensor(self.compute_output_shape(query.shape, value.shape), dtype=self.compute_dtype)
        if not return_attention_scores:
            return output
        return output, attention_scores_spec(query.shape, value.shape, self.num_heads, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            qk_channels=self.qk_channels,
            v_channels=self.v_channels,
            output_channels=self.output_channels,
            attention_dropout_rate=self.attention_dropout_rate,
            attention_chunk_size=self.attention_chunk_size,
            use_fused_attention=self.use_fused_attention,
        )
        return config
