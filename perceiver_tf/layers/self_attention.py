"""Self-attend block and the latent Transformer built from it."""

from __future__ import annotations

import keras

from perceiver_tf.layers.attention import PerceiverAttention
from perceiver_tf.layers.common import register, require_positive_int, require_rate
from perceiver_tf.layers.layer_norm import layer_norm
from perceiver_tf.layers.mlp import MLP


@register
class SelfAttention(keras.layers.Layer):
    """Pre-LN multi-head self-attention + MLP block (DeepMind: `SelfAttention`).

    `x = x + Attn(LN(x), LN(x)); x = x + MLP(LN(x))`.

    Args:
        num_heads: attention heads (8 in the Perceiver ImageNet config, 8 x 128 channels).
        qk_channels, v_channels: attention widths. `None`: the latent width D.
        widening_factor: MLP widening.
        dropout_rate, attention_dropout_rate, gelu_approximate: as in `CrossAttention`.
        use_fused_attention: use `keras.ops.dot_product_attention` (flash attention on GPU).

    Call arguments:
        inputs: `(B, N, D)`.

    Returns:
        `(B, N, D)`.
    """

    def __init__(
        self,
        num_heads: int = 8,
        qk_channels: int | None = None,
        v_channels: int | None = None,
        widening_factor: int = 1,
        dropout_rate: float = 0.0,
        attention_dropout_rate: float = 0.0,
        gelu_approximate: bool = False,
        use_fused_attention: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.qk_channels = qk_channels
        self.v_channels = v_channels
        self.widening_factor = widening_factor
        self.dropout_rate = require_rate(dropout_rate, "dropout_rate")
        self.attention_dropout_rate = attention_dropout_rate
        self.gelu_approximate = gelu_approximate
        self.use_fused_attention = bool(use_fused_attention)
        self.attention_norm = layer_norm("attention_norm", self.dtype_policy)
        self.mlp_norm = layer_norm("mlp_norm", self.dtype_policy)
        self.residual_dropout = keras.layers.Dropout(dropout_rate, dtype=self.dtype_policy, name="residual_dropout")
        self.mlp = MLP(
            widening_factor=widening_factor,
            dropout_rate=dropout_rate,
            gelu_approximate=gelu_approximate,
            dtype=self.dtype_policy,
            name="mlp",
        )

    def build(self, inputs_shape):
        self.attention = PerceiverAttention(
            num_heads=self.num_heads,
            qk_channels=self.qk_channels,
            v_channels=self.v_channels,
            output_channels=inputs_shape[-1],
            attention_dropout_rate=self.attention_dropout_rate,
            use_fused_attention=self.use_fused_attention,
            dtype=self.dtype_policy,
            name="attention",
        )
        self.attention_norm.build(inputs_shape)
        self.attention.build(inputs_shape, inputs_shape)
        self.mlp_norm.build(inputs_shape)
        self.mlp.build(inputs_shape)

    def call(self, inputs, training=None):
        normed = self.attention_norm(inputs)
        attended = self.attention(normed, normed, training=training)
        x = inputs + self.residual_dropout(attended, training=training)
        return x + self.mlp(self.mlp_norm(x), training=training)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            qk_channels=self.qk_channels,
            v_channels=self.v_channels,
            widening_factor=self.widening_factor,
            dropout_rate=self.dropout_rate,
            attention_dropout_rate=self.attention_dropout_rate,
            gelu_approximate=self.gelu_approximate,
            use_fused_attention=self.use_fused_attention,
        )
        return config


@register
class LatentTransformer(keras.layers.Layer):
    """A stack of `num_layers` `SelfAttention` blocks over the latents.

    Args:
        num_layers: self-attention blocks in the stack (6 in the Perceiver ImageNet config).
        **block_kwargs**: `num_heads`, `qk_channels`, `v_channels`, `widening_factor`,
            `dropout_rate`, `attention_dropout_rate`, `gelu_approximate`,
            `use_fused_attention` of each block.

    Call arguments:
        inputs: `(B, N, D)`.

    Returns:
        `(B, N, D)`.
    """

    def __init__(
        self,
        num_layers: int = 6,
        num_heads: int = 8,
        qk_channels: int | None = None,
        v_channels: int | None = None,
        widening_factor: int = 1,
        dropout_rate: float = 0.0,
        attention_dropout_rate: float = 0.0,
        gelu_approximate: bool = False,
        use_fused_attention: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_layers = require_positive_int(num_layers, "num_layers")
        self.block_config = dict(
            num_heads=num_heads,
            qk_channels=qk_channels,
            v_channels=v_channels,
            widening_factor=widening_factor,
            dropout_rate=dropout_rate,
            attention_dropout_rate=attention_dropout_rate,
            gelu_approximate=gelu_approximate,
            use_fused_attention=bool(use_fused_attention),
        )
        self.blocks = [
            SelfAttention(**self.block_config, dtype=self.dtype_policy, name=f"self_attention_{i}")
            for i in range(self.num_layers)
        ]

    def build(self, inputs_shape):
        for block in self.blocks:
            block.build(inputs_shape)

    def call(self, inputs, training=None):
        x = inputs
        for block in self.blocks:
            x = block(x, training=training)
        return x

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(num_layers=self.num_layers, **self.block_config)
        return config
