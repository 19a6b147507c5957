"""Perceiver IO decoding: an output query array cross-attends to the final latents."""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

from perceiver_tf.layers.attention import attention_scores_spec
from perceiver_tf.layers.common import LATENT_INIT_STDDEV, dense_kernel_initializer, register, require_positive_int
from perceiver_tf.layers.cross_attention import CrossAttention
from perceiver_tf.layers.fourier_position_encoding import (
    fourier_features,
    fourier_frequencies,
    linear_positions,
    num_fourier_channels,
)


@register
class OutputQueries(keras.layers.Layer):
    """The decoder's query array `(B, O, E)`: output-position Fourier features and/or learned queries.

    `O = prod(index_dims)` (1 for `index_dims=()`). Each query is
    `[fourier(position) (num_bands > 0), learned vector (learned_channels > 0)]`; DeepMind's
    `BasicDecoder` uses Fourier queries for dense outputs (flow, autoencoding) and one learned
    query for classification (`ClassificationDecoder`, 1 x 1024 on ImageNet).

    Args:
        index_dims: the output grid, e.g. `(H, W)` for per-pixel outputs, `()` for one query.
        num_bands: K of the Fourier features of the output positions; 0 for none.
        max_resolution: Fourier max resolution per axis. `None`: the output grid's size.
        concat_pos / sine_only: as in `FourierPositionEncoding`.
        learned_channels: width of a trainable `(O, learned_channels)` query array; 0 for none.

    Call arguments:
        reference: any tensor whose first axis is the batch (e.g. the latents).

    Returns:
        `(B, O, E)`, `E = num_fourier_channels(len(index_dims), num_bands) + learned_channels`.
    """

    def __init__(
        self,
        index_dims: Sequence[int] = (),
        num_bands: int = 0,
        max_resolution: int | Sequence[int] | None = None,
        concat_pos: bool = True,
        sine_only: bool = False,
        learned_channels: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.index_dims = [require_positive_int(d, "index_dims") for d in index_dims]
        for name, value in (("num_bands", num_bands), ("learned_channels", learned_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"`{name}` must be a non-negative int. Received: {name}={value!r}")
        if num_bands and not self.index_dims:
            raise ValueError(
                "Fourier queries need an output grid: pass index_dims=(...) with num_bands > 0. "
                f"Received: index_dims={tuple(index_dims)}, num_bands={num_bands}"
            )
        if not num_bands and not learned_channels:
            raise ValueError(
                "OutputQueries needs Fourier features (num_bands > 0) and/or learned queries "
                "(learned_channels > 0). Received: num_bands=0, learned_channels=0"
            )
        self.num_bands = num_bands
        self.max_resolution = list(max_resolution) if isinstance(max_resolution, (list, tuple)) else max_resolution
        self.concat_pos = bool(concat_pos)
        self.sine_only = bool(sine_only)
        self.learned_channels = learned_channels
        self.num_queries = math.prod(self.index_dims)
        self._fourier = None
        if num_bands:
            resolution = self.max_resolution if self.max_resolution is not None else self.index_dims
            if isinstance(resolution, (int, float)):
                resolution = [resolution] * len(self.index_dims)
            if len(resolution) != len(self.index_dims):
                raise ValueError(
                    f"`max_resolution` needs one value per output axis ({len(self.index_dims)}). "
                    f"Received: max_resolution={max_resolution!r}"
                )
            positions = linear_positions(self.index_dims).reshape(self.num_queries, len(self.index_dims))
            frequencies = fourier_frequencies(num_bands, resolution)
            self._fourier = keras.ops.convert_to_numpy(
                fourier_features(positions, frequencies, self.concat_pos, self.sine_only)
            )

    @property
    def num_channels(self) -> int:
        """E, the width of one query."""
        fourier = num_fourier_channels(len(self.index_dims), self.num_bands, self.concat_pos, self.sine_only)
        return (fourier if self.num_bands else 0) + self.learned_channels

    def build(self, reference_shape):
        if self.learned_channels:
            self.queries = self.add_weight(
                shape=(self.num_queries, self.learned_channels),
                initializer=keras.initializers.TruncatedNormal(stddev=LATENT_INIT_STDDEV),
                name="queries",
            )

    def call(self, reference):
        parts = []
        if self._fourier is not None:
            parts.append(ops.convert_to_tensor(self._fourier, dtype=self.compute_dtype))
        if self.learned_channels:
            parts.append(ops.cast(self.queries, self.compute_dtype))
        queries = parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)
        return ops.broadcast_to(queries[None], (ops.shape(reference)[0], self.num_queries, self.num_channels))

    def compute_output_shape(self, reference_shape):
        return (reference_shape[0], self.num_queries, self.num_channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            index_dims=list(self.index_dims),
            num_bands=self.num_bands,
            max_resolution=self.max_resolution,
            concat_pos=self.concat_pos,
            sine_only=self.sine_only,
            learned_channels=self.learned_channels,
        )
        return config


@register
class PerceiverDecoder(keras.layers.Layer):
    """Cross-attention from an output query array to the latents, then a projection (DeepMind: `BasicDecoder`).

    `x = [queries +] Attn(LN(queries), LN(latents)); x = x + MLP(LN(x)); out = Dense(x)`.
    The query/key width defaults to the latent width D (DeepMind's `shape_for_attn="kv"`) and
    the attention output has the query width E. As in DeepMind's `BasicDecoder` the query
    residual is off by default: when the queries are output positions and the outputs are,
    say, pixels, adding the positions to the answer mixes two different things. Their
    ImageNet classifier (a learned query) turns it on.

    Args:
        output_channels: width of each output element (e.g. 3 for RGB, num_classes for logits).
        num_heads: decoder cross-attention heads (1 in DeepMind's configs).
        qk_channels / v_channels: attention widths. `None`: the latent width D.
        widening_factor: MLP widening (DeepMind's decoder uses 1).
        use_query_residual: add the attention output to the queries.
        final_project: apply the final `Dense(output_channels)`; `False` returns width E.
        dropout_rate, attention_dropout_rate, gelu_approximate: as in `CrossAttention`.
        use_fused_attention: attend with `keras.ops.dot_product_attention` (flash attention on
            GPU) when no attention map is asked for; the map always comes from the explicit path.

    Call arguments:
        queries: `(B, O, E)`, e.g. from `OutputQueries`.
        latents: `(B, N, D)`, the encoder's output.
        return_attention_scores: also return the probabilities `(B, heads, O, N)`.

    Returns:
        `(B, O, output_channels)` (`(B, O, E)` without the final projection).
    """

    def __init__(
        self,
        output_channels: int,
        num_heads: int = 1,
        qk_channels: int | None = None,
        v_channels: int | None = None,
        widening_factor: int = 1,
        use_query_residual: bool = False,
        final_project: bool = True,
        dropout_rate: float = 0.0,
        attention_dropout_rate: float = 0.0,
        gelu_approximate: bool = False,
        use_fused_attention: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.output_channels = require_positive_int(output_channels, "output_channels")
        self.num_heads = num_heads
        self.qk_channels = qk_channels
        self.v_channels = v_channels
        self.widening_factor = widening_factor
        self.use_query_residual = bool(use_query_residual)
        self.final_project = bool(final_project)
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.gelu_approximate = gelu_approximate
        self.use_fused_attention = bool(use_fused_attention)
        self.cross_attention = CrossAttention(
            num_heads=num_heads,
            qk_channels=qk_channels,
            v_channels=v_channels,
            widening_factor=widening_factor,
            use_query_residual=use_query_residual,
            dropout_rate=dropout_rate,
            attention_dropout_rate=attention_dropout_rate,
            gelu_approximate=gelu_approximate,
            use_fused_attention=self.use_fused_attention,
            dtype=self.dtype_policy,
            name="cross_attention",
        )
        self.output_dense = keras.layers.Dense(
            output_channels, kernel_initializer=dense_kernel_initializer(), dtype=self.dtype_policy, name="output"
        )

    def build(self, queries_shape, latents_shape):
        self.cross_attention.build(queries_shape, latents_shape)
        if self.final_project:
            self.output_dense.build(queries_shape)

    def call(self, queries, latents, return_attention_scores=False, training=None):
        # Asking for the scores forces the explicit path: only then are they computed.
        x = self.cross_attention(queries, latents, return_attention_scores=return_attention_scores, training=training)
        if return_attention_scores:
            x, scores = x
        if self.final_project:
            x = self.output_dense(x)
        if return_attention_scores:
            return x, scores
        return x

    def compute_output_shape(self, queries_shape, latents_shape):
        width = self.output_channels if self.final_project else queries_shape[-1]
        return (*queries_shape[:-1], width)

    def compute_output_spec(self, queries, latents, return_attention_scores=False, training=None):
        output = keras.KerasTensor(self.compute_output_shape(queries.shape, latents.shape), dtype=self.compute_dtype)
        if not return_attention_scores:
            return output
        return output, attention_scores_spec(queries.shape, latents.shape, self.num_heads, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            output_channels=self.output_channels,
            num_heads=self.num_heads,
            qk_channels=self.qk_channels,
            v_channels=self.v_channels,
            widening_factor=self.widening_factor,
            use_query_residual=self.use_query_residual,
            final_project=self.final_project,
            dropout_rate=self.dropout_rate,
            attention_dropout_rate=self.attention_dropout_rate,
            gelu_approximate=self.gelu_approximate,
            use_fused_attention=self.use_fused_attention,
        )
        return config
