"""Keras layers of the Perceiver: attention blocks, encoder, position encodings, head."""

from perceiver_tf.layers.attention import PerceiverAttention
from perceiver_tf.layers.classification_decoder import ClassificationDecoder
from perceiver_tf.layers.classification_head import ClassificationHead
from perceiver_tf.layers.common import LAYER_NORM_EPSILON
from perceiver_tf.layers.conv_downsample import ConvDownsample
from perceiver_tf.layers.cross_attention import CrossAttention
from perceiver_tf.layers.embedding_logits import EmbeddingLogits
from perceiver_tf.layers.fourier_position_encoding import (
    FourierPositionEncoding,
    fourier_features,
    fourier_frequencies,
    linear_positions,
    num_fourier_channels,
)
from perceiver_tf.layers.index_dims import FlattenIndexDims
from perceiver_tf.layers.layer_norm import LayerNorm
from perceiver_tf.layers.learned_position_encoding import LearnedPositionEncoding
from perceiver_tf.layers.mlp import MLP
from perceiver_tf.layers.modality_padding import ModalityPadding
from perceiver_tf.layers.patches import ExtractPatches
from perceiver_tf.layers.perceiver_decoder import OutputQueries, PerceiverDecoder
from perceiver_tf.layers.perceiver_encoder import PerceiverEncoder
from perceiver_tf.layers.self_attention import LatentTransformer, SelfAttention

__all__ = [
    "LAYER_NORM_EPSILON",
    "MLP",
    "ClassificationDecoder",
    "ClassificationHead",
    "ConvDownsample",
    "CrossAttention",
    "EmbeddingLogits",
    "ExtractPatches",
    "FlattenIndexDims",
    "FourierPositionEncoding",
    "LatentTransformer",
    "LayerNorm",
    "LearnedPositionEncoding",
    "ModalityPadding",
    "OutputQueries",
    "PerceiverAttention",
    "PerceiverDecoder",
    "PerceiverEncoder",
    "SelfAttention",
    "fourier_features",
    "fourier_frequencies",
    "linear_positions",
    "num_fourier_channels",
]
