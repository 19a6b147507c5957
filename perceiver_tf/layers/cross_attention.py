"""Cross-attend block: the latent array (queries) reads the byte array (keys/values)."""

from __future__ import annotations

import keras

from perceiver_tf.layers.attention import PerceiverAttention, attention_scores_spec
from perceiver_tf.layers.common import register, require_rate
from perceiver_tf.layers.layer_norm import layer_norm
from perceiver_tf.layers.mlp import MLP


@register
class CrossAttention(keras.layers.Layer):
    """Pre-LN cross-attention + MLP block (DeepMind: `CrossAttention`).

    `x = latents + Attn(LN_q(latents), LN_kv(inputs)); x = x + MLP(LN(x))`.
    The query/key width defaults to the input's channel count (DeepMind's
    `cross_attention_shape_for_attention="kv"`; 261 on ImageNet) with one head; the attention
    output is projected back to the latent width D.

    Args:
        num_heads: attention heads (1 in the paper).
        qk_channels: query/key width. `None`: input channels C.
        v_channels: value width. `None`: `qk_channels`.
        widening_factor: MLP widening (1 in the Perceiver ImageNet config).
        use_query_residual: add the attention output to the latents. DeepMind drops it when
            the queries are not the thing being refined (e.g. some decoders).
        dropout_rate: dropout on both residual branches.
        attention_dropout_rate: dropout on attention probabilities.
        gelu_approximate: tanh GELU (DeepMind's code) instead of exact GELU (the paper).
        attention_chunk_size: `None` or chunk length over the M inputs: online-softmax
            cross-attention that holds `(B, heads, N, chunk)` logits instead of `(B, heads, N, M)`
            (see `PerceiverAttention`).
        use_fused_attention: use `keras.ops.dot_product_attention` (flash attention on GPU).

    Call arguments:
        latents: `(B, N, D)`.
        inputs: `(B, M, C)`.
        input_mask: optional bool `(B, M)`, False for padding.
        return_attention_scores: also return probabilities `(B, heads, N, M)`.
        keys_values: optional `keys_and_values(inputs)` from an earlier call over the same inputs.

    Returns:
        `(B, N, D)` (and the attention probabilities if requested).
    """

    def __init__(
        self,
        num_heads: int = 1,
        qk_channels: int | None = None,
        v_channels: int | None = None,
        widening_factor: int = 1,
        use_query_residual: bool = True,
        dropout_rate: float = 0.0,
        attention_dropout_rate: float = 0.0,
        gelu_approximate: bool = False,
        attention_chunk_size: int | None = None,
        use_fused_attention: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.qk_channels = qk_channels
        self.v_channels = v_channels
        self.widening_factor = widening_factor
        self.use_query_residual = bool(use_query_residual)
        self.dropout_rate = require_rate(dropout_rate, "dropout_rate")
        self.attention_dropout_rate = attention_dropout_rate
        self.gelu_approximate = gelu_approximate
        self.attention_chunk_size = attention_chunk_size
        self.use_fused_attention = bool(use_fused_attention)
        self.latent_norm = layer_norm("latent_norm", self.dtype_policy)
        self.input_norm = layer_norm("input_norm", self.dtype_policy)
        self.mlp_norm = layer_norm("mlp_norm", self.dtype_policy)
        self.residual_dropout = keras.layers.Dropout(dropout_rate, dtype=self.dtype_policy, name="residual_dropout")
        self.mlp = MLP(
            widening_factor=widening_factor,
            dropout_rate=dropout_rate,
            gelu_approximate=gelu_approximate,
            dtype=self.dtype_policy,
            name="mlp",
        )

    def build(self, latents_shape, inputs_shape, input_mask_shape=None):
        self.attention = PerceiverAttention(
            num_heads=self.num_heads,
            qk_channels=self.qk_channels or inputs_shape[-1],
            v_channels=self.v_channels,
            output_channels=latents_shape[-1],
            attention_dropout_rate=self.attention_dropout_rate,
            attention_chunk_size=self.attention_chunk_size,
            use_fused_attention=self.use_fused_attention,
            dtype=self.dtype_policy,
            name="attention",
        )
        self.latent_norm.build(latents_shape)
        self.input_norm.build(inputs_shape)
        self.attention.build(latents_shape, inputs_shape)
        self.mlp_norm.build(latents_shape)
        self.mlp.build(latents_shape)

    def keys_and_values(self, inputs):
        """The attention's keys and values of the normalised `inputs` `(B, M, C)`, to pass as `keys_values`
        to further calls over the same inputs (`PerceiverAttention.keys_and_values`)."""
        return self.attention.keys_and_values(inputs, self.input_norm)

    def call(self, latents, inputs, input_mask=None, return_attention_scores=False, training=None, keys_values=None):
        attended = self.attention(
            self.latent_norm(latents),
            inputs,
            value_mask=input_mask,
            value_norm=self.input_norm,
            keys_values=keys_values,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        if return_attention_scores:
            attended, scores = attended
        attended = self.residual_dropout(attended, training=training)
        x = latents + attended if self.use_query_residual else attended
        x = x + self.mlp(self.mlp_norm(x), training=training)
        if return_attention_scores:
            return x, scores
        return x

    def compute_output_shape(self, latents_shape, inputs_shape, input_mask_shape=None):
        return tuple(latents_shape)

    def compute_output_spec(self, latents, inputs, input_mask=None, return_attention_scores=False, training=None):
        output = keras.KerasTensor(tuple(latents.shape), dtype=self.compute_dtype)
        if not return_attention_scores:
            return output
        return output, attention_scores_spec(latents.shape, inputs.shape, self.num_heads, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            qk_channels=self.qk_channels,
            v_channels=self.v_channels,
            widening_factor=self.widening_factor,
            use_query_residual=self.use_query_residual,
            dropout_rate=self.dropout_rate,
            attention_dropout_rate=self.attention_dropout_rate,
            gelu_approximate=self.gelu_approximate,
            attention_chunk_size=self.attention_chunk_size,
            use_fused_attention=self.use_fused_attention,
        )
        return config
