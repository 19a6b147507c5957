"""Every public layer and adapter through the layer harness: shapes (symbolic attention scores too), serialisation."""

import pytest
from harness import run_layer_test

from perceiver_tf.adapters import (
    ArrayAdapter,
    AudioAdapter,
    ImageAdapter,
    PointsAdapter,
    SequenceAdapter,
    TextAdapter,
    VideoAdapter,
)
from perceiver_tf.layers import (
    MLP,
    ClassificationDecoder,
    ClassificationHead,
    ConvDownsample,
    CrossAttention,
    ExtractPatches,
    FlattenIndexDims,
    FourierPositionEncoding,
    LatentTransformer,
    LearnedPositionEncoding,
    ModalityPadding,
    OutputQueries,
    PerceiverAttention,
    PerceiverDecoder,
    PerceiverEncoder,
    SelfAttention,
)

LATENTS = (2, 4, 8)
INPUTS = (2, 6, 5)

CASES = [
    (PerceiverAttention(num_heads=2, qk_channels=4, v_channels=6, output_channels=3, attention_dropout_rate=0.1), (LATENTS, INPUTS)),
    (MLP(widening_factor=2, gelu_approximate=True), (LATENTS,)),
    (CrossAttention(num_heads=1, qk_channels=6, widening_factor=2, use_query_residual=False), (LATENTS, INPUTS)),
    (SelfAttention(num_heads=2, widening_factor=2), (LATENTS,)),
    (LatentTransformer(num_layers=2, num_heads=2), (LATENTS,)),
    (PerceiverEncoder(num_latents=3, latent_dim=8, num_blocks=3, num_cross_attends=2, num_self_attends_per_block=1, num_self_attention_heads=2), (INPUTS,)),
    (FourierPositionEncoding(num_bands=3, spacing="log"), ((2, 3, 4, 2),)),
    (FourierPositionEncoding(num_bands=3, max_resolution=10, coordinate_channels=3), ((2, 7, 4),)),
    (LearnedPositionEncoding(num_channels=3), ((2, 3, 4, 2),)),
    (LearnedPositionEncoding(num_channels=3, projection_channels=5), ((2, 3, 4, 2),)),
    (FlattenIndexDims(), ((2, 3, 4, 2),)),
    (ClassificationHead(num_classes=3, activation="softmax", kernel_initializer="glorot_uniform"), (LATENTS,)),
    (ExtractPatches((1, 2)), ((2, 3, 4, 2),)),
    (ModalityPadding(num_channels=9), ((2, 6, 5),)),
    (OutputQueries((3, 2), num_bands=2, max_resolution=8, learned_channels=3), ((2, 5),)),
    (PerceiverDecoder(output_channels=3, num_heads=2, qk_channels=4, widening_factor=2), ((2, 7, 6), (2, 4, 8))),
    (ClassificationDecoder(num_classes=5, query_channels=6, num_heads=2, activation="sigmoid"), (LATENTS,)),
    (ConvDownsample(channels=4, pool_padding="valid"), ((2, 9, 8, 3),)),
    (ConvDownsample(channels=4, pool_padding="valid", conv_padding="symmetric"), ((2, 9, 8, 3),)),
    (ImageAdapter((8, 8, 3), preprocessor="conv", preprocessor_channels=4, num_bands=2), ((2, 8, 8, 3),)),
    (ImageAdapter((6, 4, 2), patch_size=2, position_encoding="learned", learned_position_channels=3), ((2, 6, 4, 2),)),
    (AudioAdapter((32, 1), patch_size=8, num_bands=3, spacing="log"), ((2, 32, 1),)),
    (SequenceAdapter((7, 5), num_bands=2, concat_pos=False, sine_only=True), ((2, 7, 5),)),
    (VideoAdapter((4, 4, 4, 1), patch_size=(2, 2, 2), num_bands=2, max_resolution=[4, 8, 8]), ((2, 4, 4, 4, 1),)),
    (PointsAdapter((None, 4), num_bands=3, max_resolution=64), ((2, 9, 4),)),
    (ArrayAdapter((5, 3), position_encoding="learned", learned_position_channels=2), ((2, 5, 3),)),
    (TextAdapter((5,), vocab_size=7, embedding_channels=4, max_positions=9), ((2, 5),)),
]


@pytest.mark.parametrize("layer,shapes", CASES, ids=[f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)])
def test_layer_harness(layer, shapes, rng):
    run_layer_test(layer, [rng.uniform(-1, 1, size=s).astype("float32") for s in shapes])
