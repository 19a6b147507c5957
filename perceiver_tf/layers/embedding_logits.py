"""`EmbeddingLogits`: output logits through a (tied) input embedding table, plus a bias."""

from __future__ import annotations

import keras
from keras import ops

from perceiver_tf.layers.common import register, require_positive_int


@register
class EmbeddingLogits(keras.layers.Layer):
    """`logits = x @ embeddings.T + bias` with the embedding table of another layer (weight tying).

    Perceiver IO's language model decodes to the vocabulary through its input embedding
    (DeepMind's `EmbeddingDecoder`, transformers' `PerceiverEmbeddingDecoder`). The table
    belongs to the `keras.layers.Embedding` given to `tie`; this layer owns only the bias, so
    the table is counted, trained and saved once. The owner re-ties after loading.

    Args:
        vocab_size: V, rows of the tied table.

    Call arguments:
        inputs: `(B, L, E)`.

    Returns:
        `(B, L, V)` float32 logits.
    """

    def __init__(self, vocab_size: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = require_positive_int(vocab_size, "vocab_size")
        object.__setattr__(self, "_embedding", None)  # not tracked: the table's owner tracks it

    def tie(self, embedding: keras.layers.Embedding) -> None:
        """Read the table of `embedding` (`(V, E)`, built) from now on."""
        if embedding.input_dim != self.vocab_size:
            raise ValueError(f"EmbeddingLogits: the tied embedding has {embedding.input_dim} rows, not vocab_size="
                             f"{self.vocab_size}.")
        object.__setattr__(self, "_embedding", embedding)

    def build(self, inputs_shape):
        self.bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="bias")

    def call(self, inputs):
        if self._embedding is None:
            raise ValueError("EmbeddingLogits is not tied to an embedding: call tie(embedding_layer) first.")
        table = ops.cast(self._embedding.embeddings, inputs.dtype)
        logits = ops.einsum("ble,ve->blv", inputs, table) + ops.cast(self.bias, inputs.dtype)
        return ops.cast(logits, "float32")

    def compute_output_shape(self, inputs_shape):
        return (*inputs_shape[:-1], self.vocab_size)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size)
        return config
