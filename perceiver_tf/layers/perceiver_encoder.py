"""The Perceiver encoder: a learned latent array that iteratively attends to the inputs."""

from __future__ import annotations

import keras
from keras import ops

from perceiver_tf.layers.attention import attention_scores_spec
from perceiver_tf.layers.common import LATENT_INIT_STDDEV, register, require_positive_int
from perceiver_tf.layers.cross_attention import CrossAttention
from perceiver_tf.layers.self_attention import LatentTransformer


@register
class PerceiverEncoder(keras.layers.Layer):
    """Latent array + `num_blocks` x (cross-attend, latent Transformer) (DeepMind: `PerceiverEncoder`).

    Block `i` starts with a cross-attend to the inputs if `i < num_cross_attends`, then runs
    the latent Transformer. Weight sharing follows the paper: cross-attend 1 has its own
    weights; cross-attends 2..R share one set (`share_cross_attention`); one latent Transformer
    serves every block (`share_latent_transformer`). The Perceiver ImageNet config is
    `num_blocks=8, num_cross_attends=8`; Perceiver IO's is `num_blocks=8, num_cross_attends=1`.

    Args:
        num_latents: N, the latent array's length (DeepMind: `z_index_dim`).
        latent_dim: D, the latent width (DeepMind: `num_z_channels`).
        num_blocks: R, repeats of the cross-attend + latent Transformer block.
        num_cross_attends: how many of the blocks begin with a cross-attend. `None`: all.
        num_self_attends_per_block: self-attention layers in the latent Transformer.
        num_cross_attention_heads: heads of the cross-attention (1 in the paper).
        num_self_attention_heads: heads of the latent self-attention (8).
        cross_attention_qk_channels / cross_attention_v_channels: `None`: input channels C.
        self_attention_qk_channels / self_attention_v_channels: `None`: D.
        cross_attend_widening_factor / self_attend_widening_factor: MLP widenings (1, 1).
        share_cross_attention: share weights of cross-attends 2..R.
        share_latent_transformer: share the latent Transformer across blocks.
        use_query_residual: residual around the cross-attention.
        dropout_rate, attention_dropout_rate, gelu_approximate: passed to every block.
        cross_attention_chunk_size: `None` or a chunk length over the M inputs: the
            cross-attends stream over the inputs with an online softmax, holding
            `(B, heads, N, chunk)` logits instead of `(B, heads, N, M)` (inference memory then
            grows with M only through the inputs themselves).
        use_fused_attention: every attention uses `keras.ops.dot_product_attention` (flash
            attention on GPU) where no probabilities are requested.

    Call arguments:
        inputs: byte array `(B, M, C)` (position features already concatenated).
        input_mask: optional bool `(B, M)`, False marks padding.
        return_attention_scores: also return the list of cross-attention probabilities,
            one `(B, heads, N, M)` tensor per cross-attend.

    Returns:
        latents `(B, N, D)` (and the list of attention probabilities if requested).
    """

    def __init__(
        self,
        num_latents: int = 512,
        latent_dim: int = 1024,
        num_blocks: int = 8,
        num_cross_attends: int | None = None,
        num_self_attends_per_block: int = 6,
        num_cross_attention_heads: int = 1,
        num_self_attention_heads: int = 8,
        cross_attention_qk_channels: int | None = None,
        cross_attention_v_channels: int | None = None,
        self_attention_qk_channels: int | None = None,
        self_attention_v_channels: int | None = None,
        cross_attend_widening_factor: int = 1,
        self_attend_widening_factor: int = 1,
        share_cross_attention: bool = True,
        share_latent_transformer: bool = True,
        use_query_residual: bool = True,
        dropout_rate: float = 0.0,
        attention_dropout_rate: float = 0.0,
        gelu_approximate: bool = False,
        cross_attention_chunk_size: int | None = None,
        use_fused_attention: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_latents = require_positive_int(num_latents, "num_latents")
        self.latent_dim = require_positive_int(latent_dim, "latent_dim")
        self.num_blocks = require_positive_int(num_blocks, "num_blocks")
        if num_cross_attends is None:
            num_cross_attends = num_blocks
        require_positive_int(num_cross_attends, "num_cross_attends")
        if num_cross_attends > num_blocks:
            raise ValueError(
                "`num_cross_attends` cannot exceed `num_blocks`. Received: "
                f"num_cross_attends={num_cross_attends}, num_blocks={num_blocks}"
            )
        self.num_cross_attends = num_cross_attends
        self.num_self_attends_per_block = require_positive_int(
            num_self_attends_per_block, "num_self_attends_per_block"
        )
        self.num_cross_attention_heads = num_cross_attention_heads
        self.num_self_attention_heads = num_self_attention_heads
        self.cross_attention_qk_channels = cross_attention_qk_channels
        self.cross_attention_v_channels = cross_attention_v_channels
        self.self_attention_qk_channels = self_attention_qk_channels
        self.self_attention_v_channels = self_attention_v_channels
        self.cross_attend_widening_factor = cross_attend_widening_factor
        self.self_attend_widening_factor = self_attend_widening_factor
        self.share_cross_attention = bool(share_cross_attention)
        self.share_latent_transformer = bool(share_latent_transformer)
        self.use_query_residual = bool(use_query_residual)
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.gelu_approximate = gelu_approximate
        self.cross_attention_chunk_size = cross_attention_chunk_size
        self.use_fused_attention = bool(use_fused_attention)

        def cross_attention(name):
            return CrossAttention(
                num_heads=num_cross_attention_heads,
                qk_channels=cross_attention_qk_channels,
                v_channels=cross_attention_v_channels,
                widening_factor=cross_attend_widening_factor,
                use_query_residual=use_query_residual,
                dropout_rate=dropout_rate,
                attention_dropout_rate=attention_dropout_rate,
                gelu_approximate=gelu_approximate,
                attention_chunk_size=cross_attention_chunk_size,
                use_fused_attention=use_fused_attention,
                dtype=self.dtype_policy,
                name=name,
            )

        def latent_transformer(name):
            return LatentTransformer(
                num_layers=num_self_attends_per_block,
                num_heads=num_self_attention_heads,
                qk_channels=self_attention_qk_channels,
                v_channels=self_attention_v_channels,
                widening_factor=self_attend_widening_factor,
                dropout_rate=dropout_rate,
                attention_dropout_rate=attention_dropout_rate,
                gelu_approximate=gelu_approximate,
                use_fused_attention=use_fused_attention,
                dtype=self.dtype_policy,
                name=name,
            )

        # The first cross-attend is never shared: it sees the raw latent initialisation.
        self.cross_attentions = [cross_attention("cross_attention_0")]
        if self.share_cross_attention and num_cross_attends > 1:
            self.cross_attentions.append(cross_attention("cross_attention_shared"))
        else:
            self.cross_attentions += [
                cross_attention(f"cross_attention_{i}") for i in range(1, num_cross_attends)
            ]
        if self.share_latent_transformer:
            self.latent_transformers = [latent_transformer("latent_transformer_shared")]
        else:
            self.latent_transformers = [
                latent_transformer(f"latent_transformer_{i}") for i in range(num_blocks)
            ]

    def _cross_attention_for_block(self, block: int) -> CrossAttention:
        return self.cross_attentions[min(block, len(self.cross_attentions) - 1)]

    def _repeats(self, cross_attention: CrossAttention) -> bool:
        """Whether `cross_attention` serves more than one block."""
        blocks = range(self.num_cross_attends)
        return sum(self._cross_attention_for_block(block) is cross_attention for block in blocks) > 1

    def _latent_transformer_for_block(self, block: int) -> LatentTransformer:
        return self.latent_transformers[min(block, len(self.latent_transformers) - 1)]

    def build(self, inputs_shape, input_mask_shape=None):
        if len(inputs_shape) != 3:
            raise ValueError(
                "PerceiverEncoder expects inputs of rank 3 (batch, elements, channels). "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )
        self.latents = self.add_weight(
            shape=(self.num_latents, self.latent_dim),
            initializer=keras.initializers.TruncatedNormal(stddev=LATENT_INIT_STDDEV),
            name="latents",
        )
        latents_shape = (inputs_shape[0], self.num_latents, self.latent_dim)
        for layer in self.cross_attentions:
            layer.build(latents_shape, inputs_shape)
        for layer in self.latent_transformers:
            layer.build(latents_shape)

    def call(self, inputs, input_mask=None, return_attention_scores=False, training=None):
        batch_size = ops.shape(inputs)[0]
        latents = ops.cast(self.latents, self.compute_dtype)
        latents = ops.broadcast_to(latents[None], (batch_size, self.num_latents, self.latent_dim))
        attention_scores = []
        # A cross-attend that several blocks share reads the same inputs each time: its input
        # LayerNorm and key/value projections are computed once (unless it streams the inputs in
        # chunks, where holding them whole would defeat the chunking).
        shared_keys_values = {}
        for block in range(self.num_blocks):
            if block < self.num_cross_attends:
                cross_attention = self._cross_attention_for_block(block)
                keys_values = None
                if self._repeats(cross_attention) and cross_attention.attention.projects_keys_whole(ops.shape(inputs)[1]):
                    if cross_attention.name not in shared_keys_values:
                        shared_keys_values[cross_attention.name] = cross_attention.keys_and_values(inputs)
                    keys_values = shared_keys_values[cross_attention.name]
                latents = cross_attention(
                    latents,
                    inputs,
                    input_mask=input_mask,
                    return_attention_scores=return_attention_scores,
                    training=training,
                    keys_values=keys_values,
                )
                if return_attention_scores:
                    latents, scores = latents
                    attention_scores.append(scores)
            latents = self._latent_transformer_for_block(block)(latents, training=training)
        if return_attention_scores:
            return latents, attention_scores
        return latents

    def compute_output_shape(self, inputs_shape, input_mask_shape=None):
        return (inputs_shape[0], self.num_latents, self.latent_dim)

    def compute_output_spec(self, inputs, input_mask=None, return_attention_scores=False, training=None):
        latents = keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)
        if not return_attention_scores:
            return latents
        scores = [
            attention_scores_spec(latents.shape, inputs.shape, self.num_cross_attention_heads, self.compute_dtype)
            for _ in range(self.num_cross_attends)
        ]
        return latents, scores

    def get_config(self):
        config = super().get_config()
        config.update(
            num_latents=self.num_latents,
            latent_dim=self.latent_dim,
            num_blocks=self.num_blocks,
            num_cross_attends=self.num_cross_attends,
            num_self_attends_per_block=self.num_self_attends_per_block,
            num_cross_attention_heads=self.num_cross_attention_heads,
            num_self_attention_heads=self.num_self_attention_heads,
            cross_attention_qk_channels=self.cross_attention_qk_channels,
            cross_attention_v_channels=self.cross_attention_v_channels,
            self_attention_qk_channels=self.self_attention_qk_channels,
            self_attention_v_channels=self.self_attention_v_channels,
            cross_attend_widening_factor=self.cross_attend_widening_factor,
            self_attend_widening_factor=self.self_attend_widening_factor,
            share_cross_attention=self.share_cross_attention,
            share_latent_transformer=self.share_latent_transformer,
            use_query_residual=self.use_query_residual,
            dropout_rate=self.dropout_rate,
            attention_dropout_rate=self.attention_dropout_rate,
            gelu_approximate=self.gelu_approximate,
            cross_attention_chunk_size=self.cross_attention_chunk_size,
            use_fused_attention=self.use_fused_attention,
        )
        return config
