"""Training recipes chosen from the data (`perceiver_tf.training.recipes`) and the point-cloud
preprocessing and augmentations they choose (`perceiver_tf.data.points`, `preprocessing.pca_align`)."""

import numpy as np
import pytest
import tensorflow as tf

from perceiver_tf.data.points import PointsProcessor, random_rotation
from perceiver_tf.data.preprocessing import (
    normalize_points,
    pca_align,
    points_to_model_input,
    principal_frame,
    sampled_principal_frame,
)
from perceiver_tf.testing.synthetic import SOLID_CLASSES, random_rotation_matrix, rotated_shape
from perceiver_tf.training.recipes import (
    MAX_EPOCHS,
    MIN_EPOCHS,
    audio_choices,
    epochs_for,
    learning_rate_for,
    num_points_for,
    patience_for,
    point_cloud_choices,
    point_cloud_orientation,
    preset_for,
)


def _clouds(pose: str, seed: int, count: int = 60) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rotated_shape(SOLID_CLASSES[i % len(SOLID_CLASSES)], int(rng.integers(100, 600)), rng, pose=pose)
            for i in range(count)]


@pytest.mark.parametrize("seed", [0, 7])  # 7: a draw the thresholds were not set on
@pytest.mark.parametrize("pose, expected", [("none", "none"), ("z", "z"), ("so3", "so3")])
def test_orientation_is_read_from_the_principal_axes(pose, expected, seed):
    rotate, reason = point_cloud_orientation(_clouds(pose, seed))
    assert rotate == expected, reason


def test_orientation_of_clouds_without_a_distinct_axis_keeps_them_as_given():
    rng = np.random.default_rng(0)
    spheres = [rotated_shape("sphere", 400, rng, axis_scale=(1.0, 1.0)) for _ in range(20)]
    rotate, reason = point_cloud_orientation(spheres)
    assert rotate == "none" and "only" in reason


def test_clouds_in_any_orientation_get_principal_axis_alignment():
    flags = {choice.flag: choice.value for choice in point_cloud_choices(_clouds("so3", 1))}
    assert flags["--align"] == "pca" and flags["--rotate"] == "none"  # the alignment undoes any rotation
    upright = {choice.flag for choice in point_cloud_choices(_clouds("z", 1))}
    assert "--align" not in upright


def test_epochs_give_enough_steps_within_bounds():
    assert epochs_for(1437, 64).value == MIN_EPOCHS  # 23 steps per epoch: 500 steps take fewer than 25 epochs
    assert epochs_for(1437, 64, mixing=True).value == 66  # the digits demo with MixUp: 1,500 steps
    assert epochs_for(192, 64).value == 167  # 3 steps per epoch: 500 steps
    assert epochs_for(10, 64).value == MAX_EPOCHS
    assert epochs_for(10**6, 64).value == MIN_EPOCHS
    assert epochs_for(None, 64).value == MIN_EPOCHS  # a streamed source of unknown size
    assert patience_for(167, 200).value == 42 and patience_for(25, None).value == 10
    assert patience_for(167, 199).value == 0  # too few validation examples to pick a best epoch: keep the last


def test_preset_and_learning_rate_follow_the_data_size():
    assert preset_for(1999).value == "tiny" and preset_for(2000).value == "small"
    assert preset_for(None).value == "small"  # a streamed source of unknown size
    assert learning_rate_for("tiny", 999).value == 3e-3 and learning_rate_for("tiny", 1000).value == 1e-3
    assert learning_rate_for("small", 500).value == 1e-3 and learning_rate_for("tiny", None).value == 1e-3


@pytest.mark.parametrize("mode", ["z", "so3"])
def test_random_rotations_are_rotations(mode):
    matrices = np.stack([random_rotation(tf.constant([s, 1]), mode).numpy() for s in range(200)])
    np.testing.assert_allclose(matrices @ matrices.transpose(0, 2, 1), np.broadcast_to(np.eye(3), matrices.shape),
                               atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(matrices), 1.0, atol=1e-5)
    turned = matrices @ np.array([0.0, 0.0, 1.0])
    if mode == "z":  # the up axis stays
        np.testing.assert_allclose(turned, np.broadcast_to([0.0, 0.0, 1.0], turned.shape), atol=1e-6)
    else:  # uniform over SO(3): the up axis lands anywhere, on average nowhere
        assert np.abs(turned.mean(axis=0)).max() < 0.15 and turned[:, 2].min() < -0.9 < 0.9 < turned[:, 2].max()


def test_pca_alignment_removes_any_rotation():
    rng = np.random.default_rng(0)
    for name in ("pyramid", "cone"):  # shapes without a mirror symmetry through their centre
        cloud = rotated_shape(name, 500, rng)
        aligned = pca_align(normalize_points(tf.constant(cloud))).numpy()
        turned = pca_align(normalize_points(tf.constant(cloud @ random_rotation_matrix(rng).T))).numpy()
        np.testing.assert_allclose(aligned, turned, atol=1e-4)
        variances = aligned.var(axis=0)
        assert variances[0] >= variances[1] >= variances[2]
        assert (np.sum(aligned**3, axis=0) >= 0).all()


def test_alignment_is_preprocessing_saved_with_the_model():
    processor = PointsProcessor(64, align="pca")
    assert processor.config == {"modality": "points", "num_points": 64, "align": "pca"}
    restored = PointsProcessor.from_config(processor.config)
    cloud = tf.constant(rotated_shape("cone", 300, np.random.default_rng(1)))
    served = points_to_model_input(cloud, restored.config)  # what a SavedModel signature computes
    np.testing.assert_allclose(served.numpy(), processor.prepare(cloud, False, tf.constant([0, 0])).numpy())
    assert PointsProcessor(64).config == {"modality": "points", "num_points": 64}  # older models' config unchanged


def test_point_augmentations_keep_the_cloud_in_the_unit_sphere_and_drop_at_most_the_fraction():
    cloud = tf.constant(rotated_shape("torus", 400, np.random.default_rng(2)))
    processor = PointsProcessor(256, "so3", jitter=0.0, axis_scale_range=(0.8, 1.25), point_dropout=0.5)
    dropped = []
    for seed in range(20):
        points = processor.prepare(cloud, True, tf.constant([seed, 3])).numpy()
        assert points.shape == (256, 3) and np.linalg.norm(points, axis=1).max() <= 1.0 + 1e-5
        dropped.append(np.all(np.isclose(points, points[:1]), axis=1).sum() - 1)
    # Each point drops with a probability drawn from [0, 0.5): on average a quarter of them.
    assert max(dropped) <= 0.5 * 256 + 24 and 0.15 * 256 < np.mean(dropped) < 0.35 * 256


def _box_surface(sides, count=600, seed=0) -> np.ndarray:
    """Points on the surface of a box with these side lengths, centred: `(count, 3)`."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-0.5, 0.5, (count, 3))
    face = rng.integers(0, 3, count)
    points[np.arange(count), face] = np.sign(points[np.arange(count), face]) * 0.5
    return (points * np.asarray(sides)).astype("float32")


@pytest.mark.parametrize("sides, turning_axes", [((3.0, 2.0, 1.0), []), ((3.0, 1.0, 1.0), [1, 2])])
def test_sampled_frames_turn_only_axes_of_near_equal_variance(sides, turning_axes):
    points = _box_surface(sides)
    full = principal_frame(tf.constant(points)).numpy()
    agreement = np.stack([np.abs(np.sum(full * sampled_principal_frame(tf.constant(points), 0.5,
                                                                       tf.constant([seed, 1])).numpy(), axis=0))
                          for seed in range(12)])  # |cos| between each axis and the full cloud's, per sample
    steady = [axis for axis in range(3) if axis not in turning_axes]
    assert agreement[:, steady].min() > 0.99
    if turning_axes:  # a square cross-section: the half samples put these axes anywhere in their plane
        assert agreement[:, turning_axes].min() < 0.9


def test_a_sampled_frame_is_a_training_augmentation_only():
    cloud = tf.constant(_box_surface((3.0, 1.0, 1.0)))
    sampled = PointsProcessor(128, align="pca", frame_sample=0.5)
    plain = PointsProcessor(128, align="pca")
    assert sampled.config == plain.config  # not preprocessing: evaluation and serving use the whole cloud
    np.testing.assert_array_equal(sampled.prepare(cloud, False, None).numpy(), plain.prepare(cloud, False, None).numpy())
    trained = [sampled.prepare(cloud, True, tf.constant([seed, 0])).numpy() for seed in range(2)]
    assert not np.allclose(np.sort(trained[0][:, 1]), np.sort(trained[1][:, 1]), atol=1e-3)


@pytest.mark.parametrize("sizes, expected", [([100, 550, 1000], 1024), ([300, 500, 510], 512), ([10, 20, 60], 128),
                                             ([5000, 8000], 1024), ([512, 512], 512)])
def test_points_per_example_cover_the_median_cloud(sizes, expected):
    choice = num_points_for(sizes)
    assert choice.flag == "--num-points" and choice.value == expected


def test_the_recipe_samples_frames_exactly_when_clouds_are_aligned():
    posed = _clouds("so3", 0)
    chosen = lambda align: {c.flag: c.value for c in point_cloud_choices(posed, align)}  # noqa: E731
    assert chosen(None)["--align"] == "pca" and chosen(None)["--frame-sample"] == 0.5
    assert chosen("pca")["--frame-sample"] == 0.5
    kept = chosen("none")  # alignment refused: the clouds are rotated instead, frames stay unsampled
    assert kept["--rotate"] == "so3" and "--frame-sample" not in kept


@pytest.mark.parametrize("bad, message", [
    (dict(rotate="x"), "rotate"), (dict(align="ica"), "align"), (dict(point_dropout=1.0), "point_dropout"),
    (dict(frame_sample=0.5), r"^frame_sample varies .* of align='pca', but align='none': set both or neither$"),
    (dict(align="pca", frame_sample=1.0), "frame_sample"),
])
def test_bad_point_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        PointsProcessor(64, **bad)


@pytest.mark.parametrize("seed", [0, 5])
def test_recordings_dominated_by_static_offsets_are_centred(seed):
    from perceiver_tf.data.sensors import simulate_accelerometer
    from perceiver_tf.training.recipes import offset_share, sensor_choices

    worn, _ = simulate_accelerometer(80, num_channels=6, seed=seed)  # gravity: a random offset per recording
    choice, *tokens = sensor_choices(list(worn), 128)
    assert choice.flag == "--center-recordings" and choice.value is True
    assert [(c.flag, c.value) for c in tokens] == [("--sequence-tokens", "channels"), ("--sequence-patch-size", 8),
                                                   ("--window-warp", 0.0)]
    t = np.arange(64)[:, None] / 64
    rng = np.random.default_rng(seed)
    tones = [np.sin(2 * np.pi * 6 * t + rng.uniform(0, 6, 3)) + rng.normal(0, 0.3, (64, 3)) for _ in range(40)]
    assert offset_share(tones) < 0.05 and sensor_choices(tones, 64)[0].value is False


@pytest.mark.parametrize("seed", [0, 5])
def test_periodic_recordings_are_not_window_warped(seed):
    """Stretching a periodic recording changes its frequency: tones (periodicity 0.7-1) keep their time scale,
    single events (a bump at a random time: no repeat) are warped."""
    from perceiver_tf.training.recipes import periodicity, sensor_choices

    rng = np.random.default_rng(seed)
    t = np.arange(120)[:, None]
    tones = [np.sin(2 * np.pi * t / rng.uniform(10, 30) + rng.uniform(0, 6, 2)) + rng.normal(0, 0.1, (120, 2))
             for _ in range(20)]
    bumps = [np.exp(-0.5 * ((t - rng.uniform(20, 100)) / 8.0) ** 2) + rng.normal(0, 0.01, (120, 2)) for _ in range(20)]
    assert min(periodicity(r) for r in tones) > 0.6 and max(periodicity(r) for r in bumps) < 0.3
    warp = {c.flag: c for c in sensor_choices(tones, 120)}["--window-warp"]
    assert warp.value == 0.0 and "periodic recordings" in warp.reason
    assert {c.flag: c.value for c in sensor_choices(bumps, 120)}["--window-warp"] == 0.2
    assert periodicity(np.linspace(0, 1, 50)[:, None]) < 0.1  # a ramp: no repeat within half its length


@pytest.mark.parametrize("seed", [0, 5])
def test_offsets_that_tell_the_classes_apart_are_kept(seed):
    """Offsets that differ between classes (a recording's level is its class) are what separates them:
    not centred; offsets that vary within every class alike (gravity, orientation) are."""
    from perceiver_tf.training.recipes import offsets_between_classes, sensor_choices

    rng = np.random.default_rng(seed)
    labels = [int(i % 3) for i in range(60)]
    shapes = [np.sin(np.linspace(0, 6, 50))[:, None] + rng.normal(0, 0.2, (50, 2)) for _ in labels]
    by_class = [shape + 3.0 * label for shape, label in zip(shapes, labels)]
    by_chance = [shape + rng.normal(0, 3.0, 2) for shape in shapes]
    assert offsets_between_classes(by_class, labels) > 0.9 and offsets_between_classes(by_chance, labels) < 0.2
    kept, centred = sensor_choices(by_class, 50, labels=labels)[0], sensor_choices(by_chance, 50, labels=labels)[0]
    assert kept.value is False and "tell the classes apart: kept" in kept.reason
    assert centred.value is True and "vary within classes more: centred" in centred.reason
    assert sensor_choices(by_class, 50)[0].value is True  # without labels: the offsets' share alone
    assert offsets_between_classes(by_class, [np.eye(3)[label] for label in labels]) is None  # multi-hot


def test_audio_recipe_normalises_and_warps_log_mel_and_shifts_any_clip():
    log_mel = {choice.flag: choice.value for choice in audio_choices("log_mel")}
    assert log_mel == {"--normalize-audio": True, "--time-shift": 0.1, "--frequency-warp": 0.1}
    waveform = {choice.flag: choice.value for choice in audio_choices("waveform")}
    assert waveform == {"--time-shift": 0.1}  # no spectrum to standardise or stretch

