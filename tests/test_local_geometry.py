"""Per-point local-geometry features (`preprocessing.local_geometry`) and how point-cloud models carry
them: computed over the cloud, not the sample; the same in training, evaluation and serving."""

import numpy as np
import pytest
import tensorflow as tf

from perceiver_tf.data.points import PointsProcessor
from perceiver_tf.data.preprocessing import (
    LOCAL_GEOMETRY_FEATURES,
    MAX_GEOMETRY_POINTS,
    local_geometry,
    normalize_points,
    points_to_model_input,
)
from perceiver_tf.testing.synthetic import random_rotation_matrix, rotated_shape


def _plane(count: int, rng) -> np.ndarray:
    return np.stack([rng.uniform(-1, 1, count), rng.uniform(-1, 1, count), np.zeros(count)], axis=1)


def test_a_plane_is_planar_with_its_normal_and_a_line_is_linear():
    rng = np.random.default_rng(0)
    plane = local_geometry(tf.constant(_plane(400, rng), tf.float32), 16).numpy()
    assert plane.shape == (400, LOCAL_GEOMETRY_FEATURES)
    linearity, planarity, scattering, normal = plane[:, 0], plane[:, 1], plane[:, 2], np.abs(plane[:, 3:])
    assert np.median(planarity) > 0.5 and scattering.max() < 1e-3
    np.testing.assert_allclose(normal, np.broadcast_to([0.0, 0.0, 1.0], normal.shape), atol=1e-3)
    line = np.stack([np.linspace(-1, 1, 200), np.zeros(200), np.zeros(200)], axis=1) + rng.normal(0, 1e-3, (200, 3))
    assert np.median(local_geometry(tf.constant(line, tf.float32), 16).numpy()[:, 0]) > 0.95
    assert np.median(linearity) < 0.5


def test_shape_features_ignore_rotation_scale_and_order_and_normals_turn_with_the_cloud():
    rng = np.random.default_rng(1)
    cloud = rotated_shape("pyramid", 300, rng, pose="none")
    rotation = random_rotation_matrix(rng)
    order = rng.permutation(300)
    features = local_geometry(tf.constant(cloud), 12).numpy()
    turned = local_geometry(tf.constant(3.0 * cloud[order] @ rotation.T), 12).numpy()
    np.testing.assert_allclose(turned[:, :3], features[order, :3], atol=2e-3)
    # The normal turns with the cloud (its sign is arbitrary): n' = +-R n.
    cosines = np.sum(turned[:, 3:] * (features[order, 3:] @ rotation.T), axis=1)
    assert np.median(np.abs(cosines)) > 0.999


def test_features_are_the_clouds_not_the_duplicated_samples():
    """A 50-point plane sampled to 256 rows repeats points; neighbourhoods made of copies of one
    point would be degenerate (no plane): the features must come from the 50 distinct points."""
    cloud = tf.constant(_plane(50, np.random.default_rng(2)), tf.float32)
    processor = PointsProcessor(256, align="pca", local_geometry=8, point_dropout=0.0)
    expected = local_geometry(normalize_points(cloud), 8).numpy()[:, :3]
    decoded = processor.from_decoded(cloud)
    for rows in (processor.prepare(decoded, False, tf.constant([0, 0])).numpy(),
                 processor.prepare(decoded, True, tf.constant([3, 4])).numpy()):
        assert rows.shape == (256, 3 + LOCAL_GEOMETRY_FEATURES) == processor.input_shape
        matches = np.isclose(rows[:, None, 3:6], expected[None], atol=1e-4).all(axis=-1)
        assert matches.any(axis=1).all()  # every row's features are one of the cloud's points'
        # Not degenerate (a patch of copies of one point has no eigenvalues: all three shape features 0),
        # flat, and facing the third principal axis.
        np.testing.assert_allclose(rows[:, 3:6].sum(axis=1), 1.0, atol=1e-5)
        assert rows[:, 5].max() < 1e-3 and rows[:, 8].min() > 0.999


def test_training_augmentations_move_xyz_and_keep_each_points_features():
    cloud = tf.constant(rotated_shape("cone", 400, np.random.default_rng(3)))
    plain = PointsProcessor(128, align="pca", local_geometry=8)
    augmented = PointsProcessor(128, align="pca", local_geometry=8, jitter=0.05, axis_scale_range=(0.5, 2.0))
    seed, decoded = tf.constant([5, 6]), plain.from_decoded(cloud)
    rows, moved = plain.prepare(decoded, True, seed).numpy(), augmented.prepare(decoded, True, seed).numpy()
    np.testing.assert_allclose(moved[:, 3:], rows[:, 3:])  # the same sample, the same features
    assert np.abs(moved[:, :3] - rows[:, :3]).max() > 0.05


def test_local_geometry_is_preprocessing_saved_with_the_model():
    processor = PointsProcessor(64, align="pca", local_geometry=10)
    assert processor.config == {"modality": "points", "num_points": 64, "align": "pca", "local_geometry": 10}
    restored = PointsProcessor.from_config(processor.config)
    cloud = tf.constant(rotated_shape("torus", 3000, np.random.default_rng(4)))  # more than MAX_GEOMETRY_POINTS
    served = points_to_model_input(cloud, restored.config)  # what a SavedModel signature computes
    decoded = processor.from_decoded(cloud)
    assert decoded.shape == (MAX_GEOMETRY_POINTS, 3 + LOCAL_GEOMETRY_FEATURES)  # the cacheable rows
    np.testing.assert_allclose(served.numpy(), processor.prepare(decoded, False, tf.constant([0, 0])).numpy())
    assert served.shape == (64, 3 + LOCAL_GEOMETRY_FEATURES)


def test_a_random_rotation_turns_the_normals_with_the_points():
    """With principal-axis alignment a rotation changes nothing, normals included, only if the normals
    turn with the xyz (the pyramid has no symmetry that would hide a wrong turn)."""
    decoded = PointsProcessor(128, align="pca", local_geometry=8).from_decoded(
        tf.constant(rotated_shape("pyramid", 500, np.random.default_rng(6))))
    seed = tf.constant([7, 8])
    still = PointsProcessor(128, align="pca", local_geometry=8).prepare(decoded, True, seed).numpy()
    turned = PointsProcessor(128, "so3", align="pca", local_geometry=8).prepare(decoded, True, seed).numpy()
    np.testing.assert_allclose(turned, still, atol=1e-4)
    unaligned = PointsProcessor(128, "so3", local_geometry=8).prepare(decoded, True, seed).numpy()
    assert np.abs(unaligned[:, 6:] - still[:, 6:]).max() > 0.3  # without alignment the normals do move


@pytest.mark.parametrize("neighbors", [-1, 1, 2])
def test_too_few_neighbours_are_refused(neighbors):
    with pytest.raises(ValueError, match="local_geometry"):
        PointsProcessor(64, local_geometry=neighbors)
