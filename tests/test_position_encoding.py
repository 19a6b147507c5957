"""Fourier, learned and no position encodings."""

import keras
import numpy as np
import pytest
from numpy_reference import fourier_features as reference_features

from perceiver_tf.layers import (
    FlattenIndexDims,
    FourierPositionEncoding,
    LearnedPositionEncoding,
    fourier_frequencies,
    linear_positions,
)


@pytest.mark.parametrize("spacing", ["linear", "log"])
@pytest.mark.parametrize("concat_pos,sine_only", [(True, False), (False, True)])
def test_grid_features_match_reference(rng, spacing, concat_pos, sine_only):
    layer = FourierPositionEncoding(num_bands=6, spacing=spacing, concat_pos=concat_pos, sine_only=sine_only)
    images = rng.normal(size=(2, 5, 7, 3)).astype("float32")
    out = np.asarray(layer(images))
    ys, xs = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 7), indexing="ij")
    positions = np.stack([ys, xs], -1).reshape(-1, 2)
    expected = reference_features(positions, 6, [5, 7], spacing, concat_pos, sine_only)
    assert out.shape == (2, 35, 3 + expected.shape[-1])
    np.testing.assert_allclose(out[:, :, :3], images.reshape(2, 35, 3))
    np.testing.assert_allclose(out[0, :, 3:], expected, atol=1e-5)
    np.testing.assert_allclose(out[1, :, 3:], expected, atol=1e-5)


def test_imagenet_has_261_channels_with_paper_frequencies():
    layer = FourierPositionEncoding(num_bands=64)
    out = layer(np.zeros((1, 224, 224, 3), "float32"))
    assert out.shape == (1, 224 * 224, 261)
    freqs = fourier_frequencies(64, [224, 224], "linear")
    np.testing.assert_allclose(freqs[:, 0], 1.0)
    np.testing.assert_allclose(freqs[:, -1], 112.0)  # Nyquist of the 224 grid
    log = fourier_frequencies(64, [224], "log")[0]
    np.testing.assert_allclose(np.diff(np.log(log)), np.log(112.0) / 63, rtol=1e-5)


def test_channel_order_is_pos_then_sines_then_cosines():
    layer = FourierPositionEncoding(num_bands=2, max_resolution=[4, 8])
    out = np.asarray(layer(np.zeros((1, 2, 2, 0), "float32")))[0]
    x = linear_positions([2, 2]).reshape(-1, 2)
    freqs = np.array([[1.0, 2.0], [1.0, 4.0]])  # linspace(1, res / 2, 2) per axis
    angles = np.pi * np.concatenate([x[:, :1] * freqs[0], x[:, 1:] * freqs[1]], -1)
    np.testing.assert_allclose(out[:, :2], x)
    np.testing.assert_allclose(out[:, 2:6], np.sin(angles), atol=1e-6)
    np.testing.assert_allclose(out[:, 6:], np.cos(angles), atol=1e-6)


def test_coordinate_mode_equals_grid_mode_on_grid_coordinates(rng):
    grid = FourierPositionEncoding(num_bands=5, max_resolution=[6, 6])
    points = FourierPositionEncoding(num_bands=5, max_resolution=6, coordinate_channels=2)
    values = rng.normal(size=(1, 6, 6, 1)).astype("float32")
    coords = linear_positions([6, 6]).reshape(1, 36, 2)
    grid_out = np.asarray(grid(values))
    point_out = np.asarray(points(np.concatenate([coords, values.reshape(1, 36, 1)], -1)))
    np.testing.assert_allclose(point_out[..., 3:], grid_out[..., 1:], atol=1e-6)


def test_features_are_concatenated_not_added(rng):
    values = rng.normal(size=(1, 4, 3)).astype("float32")
    out = np.asarray(FourierPositionEncoding(num_bands=3)(values))
    np.testing.assert_array_equal(out[..., :3], values)
    assert out.shape[-1] == 3 + 7


def test_learned_and_no_position_encodings(rng):
    values = rng.normal(size=(2, 3, 4, 2)).astype("float32")
    learned = LearnedPositionEncoding(num_channels=5)
    out = np.asarray(learned(values))
    assert out.shape == (2, 12, 7)
    table = np.asarray(learned.position_embeddings)
    np.testing.assert_array_equal(out[0, :, 2:], table)
    np.testing.assert_array_equal(out[1, :, 2:], table)
    assert 0.005 < table.std() < 0.03 and np.abs(table).max() <= 0.04 + 1e-6
    np.testing.assert_array_equal(np.asarray(FlattenIndexDims()(values)), values.reshape(2, 12, 2))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"spacing": "cubic"}, "spacing"),
        ({"num_bands": 0}, "num_bands"),
        ({"coordinate_channels": 3}, "max_resolution"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FourierPositionEncoding(**kwargs)


def test_resolution_per_axis_must_match_dims():
    with pytest.raises(ValueError, match="one value per position axis"):
        FourierPositionEncoding(max_resolution=[4, 4, 4])(np.zeros((1, 4, 4, 1), "float32"))


def test_config_round_trip():
    layer = FourierPositionEncoding(num_bands=3, max_resolution=[5, 9], spacing="log", sine_only=True)
    clone = FourierPositionEncoding.from_config(layer.get_config())
    x = np.ones((1, 5, 9, 2), "float32")
    np.testing.assert_array_equal(layer(x), clone(x))
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer)).spacing == "log"
