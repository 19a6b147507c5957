"""Classification decoder: one learned query cross-attends to the latents (Perceiver IO's classifier)."""

from __future__ import annotations

import keras
from keras import ops

from perceiver_tf.layers.attention import attention_scores_spec
from perceiver_tf.layers.common import register, require_optional_positive_int, require_positive_int
from perceiver_tf.layers.perceiver_decoder import OutputQueries, PerceiverDecoder


@register
class ClassificationDecoder(keras.layers.Layer):
    """`logits = Decoder(learned query (1 x E), latents)` (DeepMind: `ClassificationDecoder`).

    The Perceiver IO ImageNet classifier: a trainable `1 x E` query (E = D by default, 1024 in
    config A) attends to the latents with one head and a query residual, then `Dense(num_classes)`.
    Unlike `ClassificationHead` (mean over the latents), the decoder learns which latents to read.

    Args:
        num_classes: output width.
        query_channels: E, the learned query's width. `None`: the latent width D.
        num_heads: decoder attention heads (1).
        widening_factor: decoder MLP widening (1).
        gelu_approximate: tanh GELU (DeepMind's JAX code).
        use_fused_attention: the decoder's fast path (see `PerceiverDecoder`).
        activation: `None` for logits, or e.g. "softmax" / "sigmoid".

    Call arguments:
        latents: `(B, N, D)`.
        return_attention_scores: also return the query's attention `(B, heads, 1, N)`.

    Returns:
        `(B, num_classes)`, always float32.
    """

    def __init__(self, num_classes: int, query_channels: int | None = None, num_heads: int = 1,
                 widening_factor: int = 1, gelu_approximate: bool = False, use_fused_attention: bool = False,
                 activation=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = require_positive_int(num_classes, "num_classes")
        self.query_channels = require_optional_positive_int(query_channels, "query_channels")
        self.num_heads = require_positive_int(num_heads, "num_heads")
        self.widening_factor = widening_factor
        self.gelu_approximate = bool(gelu_approximate)
        self.use_fused_attention = bool(use_fused_attention)
        self.activation = keras.activations.get(activation)

    def build(self, latents_shape):
        width = self.query_channels or latents_shape[-1]
        self.queries = OutputQueries((), learned_channels=width, dtype=self.dtype_policy, name="query")
        self.decoder = PerceiverDecoder(
            self.num_classes, num_heads=self.num_heads, widening_factor=self.widening_factor,
            use_query_residual=True, gelu_approximate=self.gelu_approximate,
            use_fused_attention=self.use_fused_attention, dtype=self.dtype_policy, name="decoder",
        )
        queries_shape = (latents_shape[0], 1, width)
        self.queries.build(latents_shape)
        self.decoder.build(queries_shape, latents_shape)

    def call(self, latents, return_attention_scores=False, training=None):
        decoded = self.decoder(self.queries(latents), latents, return_attention_scores=return_attention_scores,
                               training=training)
        if return_attention_scores:
            decoded, scores = decoded
        logits = self.activation(ops.cast(decoded[:, 0], "float32"))
        return (logits, scores) if return_attention_scores else logits

    def compute_output_shape(self, latents_shape):
        return (latents_shape[0], self.num_classes)

    def compute_output_spec(self, latents, return_attention_scores=False, training=None):
        logits = keras.KerasTensor(self.compute_output_shape(latents.shape), dtype="float32")
        if not return_attention_scores:
            return logits
        return logits, attention_scores_spec((latents.shape[0], 1), latents.shape, self.num_heads, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, query_channels=self.query_channels, num_heads=self.num_heads,
                      widening_factor=self.widening_factor, gelu_approximate=self.gelu_approximate,
                      use_fused_attention=self.use_fused_attention, activation=keras.activations.serialize(self.activation))
        return config
