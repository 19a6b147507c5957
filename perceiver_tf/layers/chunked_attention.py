"""Attention over very long key sequences in chunks: online softmax forward, recomputing backward.

`chunked_attention` computes `softmax(q k^T) v` with `k = x W_k + b_k`, `v = x W_v + b_v`
projected from the raw inputs `x` one chunk of keys at a time, so the logits held at once are
`(B, h, N, chunk)` and the key/value projections are never whole (Milakov & Gimelshein 2018).

With `recompute_gradients=True` the gradient is defined by hand, flash-attention style
(Dao et al. 2022): the forward pass keeps only the output and, per query row, the running max
and the softmax normaliser; the backward pass loops over the chunks again, recomputing each
chunk's projections and probabilities, so training memory no longer grows with N x M (automatic
differentiation of the loop would store every chunk's probabilities). With `P = softmax(S)`,
`O = P V` and the upstream gradient `dO`, per chunk:

    dV = P^T dO,   dP = dO V^T,   dS = P * (dP - rowsum(dO * O)),   dq = dS K,   dK = dS^T q,

and the projections' gradients `dW = x^T dK`, `db = sum dK`, `dx = dK W_k^T + dV W_v^T`.

With `input_norm` the inputs' LayerNorm runs inside the loop too (`x = x_hat * gamma + beta`,
`x_hat = (u - mean(u)) / sqrt(var(u) + eps)` of each raw input row `u`), so nothing of size M
but the raw inputs exists in either pass: its gradients are `dgamma = sum dx * x_hat`,
`dbeta = sum dx` and `du = (g - mean(g) - x_hat mean(g * x_hat)) / sqrt(var(u) + eps)` with
`g = dx * gamma`.
"""

from __future__ import annotations

import keras
from keras import ops

from perceiver_tf.layers.chunk_loop import loop_over_chunks
from perceiver_tf.layers.layer_norm import layer_norm_backward, layer_norm_standardise

#: Fill for masked logits. Softmax always runs in float32 here, so a finite -1e9 is exact and
#: safe; -inf would turn fully masked rows into NaN.
MASKED_LOGIT = -1e9


def heads_and_queries_axes(keys):
    """`(B, M)` -> `(B, 1, 1, M)`, broadcastable over heads and queries.

    `expand_dims`, not `x[:, None, None, :]`: TFLite has no builtin for the strided slice
    that `None` indexing becomes when M is unknown (point clouds of any size).
    """
    return ops.expand_dims(ops.expand_dims(keys, 1), 1)


def chunked_attention(
    q,
    inputs,
    key_weights,
    key_kernel,
    key_bias,
    value_kernel,
    value_bias,
    num_heads: int,
    chunk_size: int,
    recompute_gradients: bool,
    input_norm: tuple | None = None,
):
    """Multi-head attention of `q` over keys/values projected chunk by chunk from `inputs`.

    Args:
        q: queries `(B, N, h, d)`, already scaled by `1/sqrt(d)`.
        inputs: the raw key/value inputs `(B, M, C)`.
        key_weights: float32 `(B, M)`, 1 for a key to attend to, 0 for padding.
        key_kernel, key_bias: `(C, h*d)`, `(h*d,)`; value_kernel, value_bias: `(C, h*dv)`, `(h*dv,)`.
            All in the compute dtype of `q` and `inputs`.
        num_heads: h.
        chunk_size: keys per chunk; M is padded to whole chunks with weight-0 keys.
        recompute_gradients: define the gradient by recomputation (memory independent of the
            number of chunks) instead of differentiating the loop.
        input_norm: `None`, or `(gamma, beta, epsilon)` of a LayerNorm over the input channels
            (float32 `(C,)`, `(C,)`, a float) applied to each chunk before the projections.

    Returns:
        `(B, h, N, dv)` float32. Query rows whose keys are all masked are zero.
    """
    batch, length, channels = ops.shape(inputs)
    num_chunks = (length + chunk_size - 1) // chunk_size
    padding = num_chunks * chunk_size - length
    if not isinstance(padding, int) or padding:
        # Pad to whole chunks; the padding has weight 0, i.e. is masked out.
        key_weights = ops.pad(key_weights, [[0, 0], [0, padding]])
        inputs = ops.pad(inputs, [[0, 0], [0, padding], [0, 0]])
    chunks = ops.reshape(inputs, (batch, num_chunks, chunk_size, channels))
    chunk_weights = ops.reshape(key_weights, (batch, num_chunks, chunk_size))
    epsilon = None if input_norm is None else input_norm[2]
    weights = (key_kernel, key_bias, value_kernel, value_bias, *(input_norm[:2] if input_norm else ()))
    if not recompute_gradients:
        attention = _ChunkedAttention(num_heads, num_chunks, chunks, chunk_weights, epsilon)
        return attention.forward(q, *weights)[0]

    @ops.custom_gradient
    def attend(q, chunks, chunk_weights, *weights):
        attention = _ChunkedAttention(num_heads, num_chunks, chunks, chunk_weights, epsilon)
        output, row_max, normaliser = attention.forward(q, *weights)

        def gradient(d_output):
            d_chunks, d_q, *d_weights = attention.backward(
                ops.cast(d_output, "float32"), output, row_max, normaliser, q, *weights
            )
            return (d_q, d_chunks, ops.zeros_like(chunk_weights), *d_weights)

        return output, gradient

    return attend(q, chunks, chunk_weights, *weights)


class _ChunkedAttention:
    """The per-chunk computations shared by the forward and the backward loop."""

    def __init__(self, num_heads, num_chunks, chunks, chunk_weights, norm_epsilon: float | None):
        self.num_heads = num_heads
        self.num_chunks = num_chunks
        self.chunks = chunks  # (B, n, c, C)
        self.chunk_weights = chunk_weights  # (B, n, c) float32
        self.norm_epsilon = norm_epsilon  # None: the chunks are used as they are

    def _normalised(self, x, norm_weights):
        """Chunk `(B, c, C)` -> (LayerNorm output in x's dtype, float32 x_hat, float32 1/std `(B, c, 1)`).

        Without a norm: `(x, None, None)`.
        """
        if self.norm_epsilon is None:
            return x, None, None
        gamma, beta = norm_weights
        x_hat, inverse_std = layer_norm_standardise(ops.cast(x, "float32"), self.norm_epsilon)
        return ops.cast(x_hat * gamma + beta, x.dtype), x_hat, inverse_std

    def _project(self, x, kernel, bias):
        """`(B, c, C)` -> `(B, c, h, width / h)`."""
        projected = ops.matmul(x, kernel) + bias
        shape = ops.shape(projected)
        return ops.reshape(projected, (shape[0], shape[1], self.num_heads, shape[2] // self.num_heads))

    def _chunk(self, i, q, key_kernel, key_bias, value_kernel, value_bias, *norm_weights):
        """Chunk i's (normalised) inputs `(B, c, C)` with `_normalised`'s x_hat and 1/std, keys
        `(B, c, h, d)`, values, logits `(B, h, N, c)` and key weights `(B, 1, 1, c)`."""
        x, x_hat, inverse_std = self._normalised(ops.take(self.chunks, i, axis=1), norm_weights)
        weights = heads_and_queries_axes(ops.take(self.chunk_weights, i, axis=1))
        k = self._project(x, key_kernel, key_bias)
        v = self._project(x, value_kernel, value_bias)
        logits = ops.cast(ops.einsum("bnhd,bchd->bhnc", q, k), "float32")
        logits = ops.where(weights > 0, logits, MASKED_LOGIT)
        return (x, x_hat, inverse_std), k, v, logits, weights

    def forward(self, q, key_kernel, key_bias, value_kernel, value_bias, *norm_weights):
        """Online softmax -> output `(B, h, N, dv)`, row max `(B, h, N, 1)` and normaliser `(B, h, N, 1)`, all float32."""

        def step(i, state):
            running_max, normaliser, accumulator = state
            _, _, v, logits, weights = self._chunk(i, q, key_kernel, key_bias, value_kernel, value_bias, *norm_weights)
            new_max = ops.maximum(running_max, ops.max(logits, axis=-1, keepdims=True))
            # Masked keys get weight exactly 0, so a row with no valid key so far stays 0.
            unnormalised = ops.exp(logits - new_max) * weights
            correction = ops.exp(running_max - new_max)
            normaliser = normaliser * correction + ops.sum(unnormalised, axis=-1, keepdims=True)
            update = ops.einsum("bhnc,bchd->bhnd", ops.cast(unnormalised, v.dtype), v)
            return (new_max, normaliser, accumulator * correction + ops.cast(update, "float32")), None

        batch, num_queries = ops.shape(q)[0], ops.shape(q)[1]
        row_shape = (batch, self.num_heads, num_queries, 1)
        v_width = ops.shape(value_kernel)[1] // self.num_heads
        initial = (
            ops.full(row_shape, MASKED_LOGIT, "float32"),
            ops.zeros(row_shape, "float32"),
            ops.zeros((batch, self.num_heads, num_queries, v_width), "float32"),
        )
        (row_max, normaliser, accumulator), _ = loop_over_chunks(self.num_chunks, step, initial)
        # Rows whose keys are all masked have a zero normaliser and a zero output.
        normaliser = ops.maximum(normaliser, keras.config.epsilon())
        return accumulator / normaliser, row_max, normaliser

    def backward(self, d_output, output, row_max, normaliser, q, key_kernel, key_bias, value_kernel, value_bias,
                 *norm_weights):
        """Gradients of the raw inputs (chunks) and of q, W_k, b_k, W_v, b_v (and the norm's gamma, beta)
        from `d_output` `(B, h, N, dv)`."""
        dtype = q.dtype
        # rowsum(dO * O): the softmax backward's correction term, (B, h, N, 1).
        correction = ops.sum(d_output * output, axis=-1, keepdims=True)
        d_output_c = ops.cast(d_output, dtype)

        def step(i, grads):
            d_q, d_key_kernel, d_key_bias, d_value_kernel, d_value_bias, *d_norm = grads
            (x, x_hat, inverse_std), k, v, logits, weights = self._chunk(
                i, q, key_kernel, key_bias, value_kernel, value_bias, *norm_weights
            )
            probabilities = ops.exp(logits - row_max) * weights / normaliser
            d_v = ops.einsum("bhnc,bhnd->bchd", ops.cast(probabilities, dtype), d_output_c)
            d_probabilities = ops.cast(ops.einsum("bhnd,bchd->bhnc", d_output_c, v), "float32")
            d_logits = ops.cast(probabilities * (d_probabilities - correction), dtype)
            d_k = ops.einsum("bhnc,bnhd->bchd", d_logits, q)
            d_q = d_q + ops.cast(ops.einsum("bhnc,bchd->bnhd", d_logits, k), "float32")
            d_k, d_v = _merge_heads(d_k), _merge_heads(d_v)  # (B, c, h*d)
            d_x = ops.matmul(d_k, ops.transpose(key_kernel)) + ops.matmul(d_v, ops.transpose(value_kernel))
            grads = (
                d_q,
                d_key_kernel + ops.cast(ops.einsum("bci,bco->io", x, d_k), "float32"),
                d_key_bias + ops.cast(ops.sum(d_k, axis=(0, 1)), "float32"),
                d_value_kernel + ops.cast(ops.einsum("bci,bco->io", x, d_v), "float32"),
                d_value_bias + ops.cast(ops.sum(d_v, axis=(0, 1)), "float32"),
            )
            if x_hat is not None:
                d_x, d_gamma, d_beta = layer_norm_backward(ops.cast(d_x, "float32"), x_hat, inverse_std, norm_weights[0])
                grads += (d_norm[0] + d_gamma, d_norm[1] + d_beta)
            return grads, ops.cast(d_x, self.chunks.dtype)

        inputs = (q, key_kernel, key_bias, value_kernel, value_bias, *norm_weights)
        initial = tuple(ops.zeros(ops.shape(t), "float32") for t in inputs)
        grads, d_chunks = loop_over_chunks(self.num_chunks, step, initial, output_dtype=self.chunks.dtype)
        # (n, B, c, C) -> (B, n, c, C), the layout of `chunks`.
        d_chunks = ops.transpose(d_chunks, (1, 0, 2, 3))
        return (d_chunks, *(ops.cast(g, t.dtype) for g, t in zip(grads, inputs)))


def _merge_heads(x):
    """`(B, c, h, d)` -> `(B, c, h*d)`."""
    shape = ops.shape(x)
    return ops.reshape(x, (shape[0], shape[1], shape[2] * shape[3]))
