"""Every public layer survives get_config/from_config and Keras serialisation with equal outputs."""

import keras
import numpy as np
import pytest

from perceiver_tf.layers import (
    MLP,
    ClassificationHead,
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
    (FlattenIndexDims(), ((2, 3, 4, 2),)),
    (ClassificationHead(num_classes=3, activation="softmax", kernel_initializer="glorot_uniform"), (LATENTS,)),
    (ExtractPatches((1, 2)), ((2, 3, 4, 2),)),
    (ModalityPadding(num_channels=9), ((2, 6, 5),)),
    (OutputQueries((3, 2), num_bands=2, max_resolution=8, learned_channels=3), ((2, 5),)),
    (PerceiverDecoder(output_channels=3, num_heads=2, qk_channels=4, widening_factor=2), ((2, 7, 6), (2, 4, 8))),
]


@pytest.mark.parametrize("layer,shapes", CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_round_trip_gives_identical_outputs(layer, shapes, rng):
    inputs = [rng.uniform(-1, 1, size=s).astype("float32") for s in shapes]
    expected = np.asarray(layer(*inputs))
    assert tuple(layer.compute_output_shape(*shapes)) == expected.shape
    for clone in (
        type(layer).from_config(layer.get_config()),
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer)),
    ):
        clone(*inputs)
        clone.set_weights(layer.get_weights())
        np.testing.assert_array_equal(np.asarray(clone(*inputs)), expected)
        assert clone.get_config() == layer.get_config()
