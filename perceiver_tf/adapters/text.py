"""`TextAdapter`: token ids `(L,)` -> token embeddings + learned position embeddings `(L, E)`."""

from __future__ import annotations

import keras
from keras import ops

from perceiver_tf.adapters.base import InputAdapter
from perceiver_tf.layers.common import LATENT_INIT_STDDEV, register, require_positive_int


@register
class TextAdapter(InputAdapter):
    """Token ids (e.g. UTF-8 bytes from `ByteTokenizer`) as a byte array of embeddings.

    `x[l] = token_embedding[ids[l]] + position_embedding[l]`: the two are added, not
    concatenated (Perceiver IO's language model; transformers' `PerceiverTextPreprocessor`).
    `token_embedding` is a `keras.layers.Embedding`, so a task can tie its output projection
    to it (`PerceiverMaskedLM`).

    Args:
        input_shape: `(length,)`, tokens per example.
        vocab_size: number of token ids (262 for `ByteTokenizer`: 256 bytes + 6 special tokens).
        embedding_channels: E, the width of both embeddings (768 in `deepmind/language-perceiver`).
        max_positions: rows of the position table (default `length`); a longer table lets the
            same weights read shorter inputs, whose positions are the table's first rows.

    Call arguments:
        inputs: `(B, length)` integer ids in `[0, vocab_size)`.

    Returns:
        `(B, length, embedding_channels)`.
    """

    input_kind = "text"
    example_rank = 1
    layout = "(tokens,)"

    def __init__(self, input_shape, vocab_size: int = 262, embedding_channels: int = 768,
                 max_positions: int | None = None, example_dtype: str = "int32", **kwargs):
        super().__init__(input_shape, example_dtype=example_dtype, **kwargs)
        self.vocab_size = require_positive_int(vocab_size, "vocab_size")
        self.embedding_channels = require_positive_int(embedding_channels, "embedding_channels")
        length = self.example_shape[0]
        self.max_positions = length if max_positions is None else require_positive_int(max_positions, "max_positions")
        if self.max_positions < length:
            raise ValueError(f"TextAdapter: max_positions={self.max_positions} is shorter than the input length "
                             f"{length}; pass max_positions >= {length} or a shorter input_shape.")
        initializer = keras.initializers.TruncatedNormal(stddev=LATENT_INIT_STDDEV)
        self.token_embedding = keras.layers.Embedding(vocab_size, embedding_channels,
                                                      embeddings_initializer=initializer, dtype=self.dtype_policy,
                                                      name="token_embedding")
        self.position_embedding = keras.layers.Embedding(self.max_positions, embedding_channels,
                                                         embeddings_initializer=initializer, dtype=self.dtype_policy,
                                                         name="position_embedding")

    def check_example_shape(self, received: tuple, model_name: str) -> None:
        """Raise a ValueError when `received` (batch excluded) is not `(length,)`."""
        if tuple(received) not in ((self.example_shape[0],), (None,)):
            raise ValueError(f"{model_name} (input_kind='text') expects token ids of shape (batch, "
                             f"{self.example_shape[0]}); received (batch, {', '.join(map(str, received))}). "
                             "Pad or truncate to that length (ByteTokenizer(..., max_length=...)).")

    @property
    def element_grid(self) -> tuple[int, ...]:
        return (self.example_shape[0],)

    def build(self, inputs_shape):
        super().build(inputs_shape)
        self.token_embedding.build(inputs_shape)
        self.position_embedding.build((self.max_positions,))

    def call(self, inputs):
        tokens = self.token_embedding(ops.cast(inputs, "int32"))
        positions = self.position_embedding.embeddings[: self.example_shape[0]]
        return tokens + ops.cast(positions, tokens.dtype)[None]

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0], self.example_shape[0], self.embedding_channels)

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, embedding_channels=self.embedding_channels,
                      max_positions=self.max_positions)
        return config
