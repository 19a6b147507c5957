"""Every modality through the one architecture: patches, presets, and learning on generated data."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from perceiver_tf import build_classifier, get_preset
from perceiver_tf.data.sensors import (
    ACTIVITY_CLASS_NAMES,
    load_labelled_directory,
    load_time_series,
    pad_batch,
    resample,
    simulate_accelerometer,
)
from perceiver_tf.layers.patches import ExtractPatches
from perceiver_tf.metrics import average_precision, mean_average_precision

TINY = dict(
    num_latents=16, latent_dim=32, num_blocks=1, num_cross_attends=1, num_self_attends_per_block=1,
    num_self_attention_heads=2, num_bands=8, cross_attend_widening_factor=2,
)


def fit_accuracy(model, x, y, x_val, y_val, epochs, learning_rate=3e-3, batch_size=32):
    """Train with RMSprop on integer labels; return validation accuracy.

    Tracing dominates on CPU: one traced `fit` (RMSprop traces faster than Adam), and
    validation runs eagerly (tracing `predict` would cost more than it saves).
    """
    model.compile(keras.optimizers.RMSprop(learning_rate), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    accuracy = float(np.mean(np.asarray(model(x_val, training=False)).argmax(-1) == y_val))
    print(f"validation accuracy {accuracy:.3f}")
    return accuracy


# --- patches ------------------------------------------------------------------------------


def numpy_patches(x, patch):
    """Independent reference: loop over patch grid cells, flatten each (p_1, ..., p_k, C) block."""
    grid = [d // p for d, p in zip(x.shape[1:-1], patch)]
    out = np.empty((x.shape[0], *grid, int(np.prod(patch)) * x.shape[-1]), x.dtype)
    for cell in np.ndindex(*grid):
        block = tuple(slice(i * p, (i + 1) * p) for i, p in zip(cell, patch))
        out[(slice(None), *cell)] = x[(slice(None), *block)].reshape(x.shape[0], -1)
    return out


def test_extract_patches_matches_tf_image_extract_patches(rng):
    images = rng.normal(size=(2, 12, 16, 3)).astype("float32")
    expected = tf.image.extract_patches(images, [1, 4, 8, 1], [1, 4, 8, 1], [1, 1, 1, 1], "VALID").numpy()
    np.testing.assert_array_equal(ExtractPatches((4, 8))(images), expected)


@pytest.mark.parametrize("shape, patch", [((2, 64, 1), (16,)), ((2, 4, 8, 8, 3), (2, 4, 4))])
def test_extract_patches_1d_and_3d_match_numpy(rng, shape, patch):
    x = rng.normal(size=shape).astype("float32")
    layer = ExtractPatches(patch)
    out = np.asarray(layer(x))
    np.testing.assert_array_equal(out, numpy_patches(x, patch))
    assert out.shape == layer.compute_output_shape(shape)


def test_extract_patches_rejects_indivisible_dims():
    with pytest.raises(ValueError, match="not divisible"):
        ExtractPatches(3)(np.zeros((1, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match="one entry per index dim"):
        ExtractPatches((2, 2))(np.zeros((1, 8, 1), "float32"))


def test_raw_audio_preset_patches_waveform_to_480_by_128():
    preset = get_preset("audioset_raw")
    model = build_classifier("audioset_raw", (61440, 1), 527, **TINY)
    assert preset.reference_input_shape == (61440, 1)
    adapter = model.backbone.get_layer("adapter")
    assert adapter.element_grid == (480,) and adapter.output.shape == (None, 480, 128 + 2 * 8 + 1)
    video = build_classifier("audioset_video", (32, 224, 224, 3), 527, **TINY).backbone.get_layer("adapter")
    assert video.element_grid == (16, 28, 28) and video.output.shape == (None, 16 * 28 * 28, 384 + 3 * 17)


# --- learning on generated data -------------------------------------------------------------


def tones(rng, n, length=512, cycles=(4, 12, 30)):
    """Raw waveforms `(n, length, 1)`: a sinusoid whose frequency is the class, random phase, noise."""
    y = rng.integers(0, len(cycles), n)
    t = np.arange(length) / length
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    x = np.sin(2 * np.pi * np.asarray(cycles)[y][:, None] * t + phase) + 0.3 * rng.normal(size=(n, length))
    return x[..., None].astype("float32"), y


def test_raw_audio_patches_learn_tones(rng):
    x, y = tones(rng, 256)
    x_val, y_val = tones(rng, 128)
    model = build_classifier("tiny", (512, 1), 3, input_kind="audio", patch_size=16, **TINY)
    assert fit_accuracy(model, x, y, x_val, y_val, epochs=4) > 0.8  # chance 1/3


def spectrograms(rng, n, bins=(2, 7, 12)):
    """Log-mel-like `(n, 16, 16, 1)` (time x mel): a band at the class's frequency bin, noise."""
    y = rng.integers(0, len(bins), n)
    x = 0.5 * rng.normal(size=(n, 16, 16))
    x[np.arange(n), :, np.asarray(bins)[y]] += 1.5
    return x[..., None].astype("float32"), y


def test_mel_spectrogram_with_2d_fourier_features_learns(rng):
    x, y = spectrograms(rng, 256)
    x_val, y_val = spectrograms(rng, 128)
    model = build_classifier("tiny", (16, 16, 1), 3, input_kind="image", patch_size=(2, 4), **TINY)
    assert model.backbone.get_layer("adapter").output.shape == (None, 8 * 4, 8 + 2 * 17)
    assert fit_accuracy(model, x, y, x_val, y_val, epochs=4) > 0.8  # chance 1/3


def ramps(rng, n, frames=4):
    """Videos `(n, frames, 8, 8, 1)` that brighten (class 0) or darken (class 1) over time."""
    y = rng.integers(0, 2, n)
    slope = np.where(y == 0, 1.0, -1.0)[:, None] * np.linspace(-1, 1, frames)
    x = slope[:, :, None, None] + rng.uniform(-1, 1, (n, 1, 1, 1)) + 0.5 * rng.normal(size=(n, frames, 8, 8))
    return x[..., None].astype("float32"), y


def test_video_space_time_patches_learn_temporal_direction(rng):
    x, y = ramps(rng, 256)
    x_val, y_val = ramps(rng, 128)
    model = build_classifier("tiny", (4, 8, 8, 1), 2, input_kind="video", patch_size=(2, 4, 4), **TINY)
    assert model.backbone.get_layer("adapter").output.shape == (None, 2 * 2 * 2, 32 + 3 * 17)
    assert fit_accuracy(model, x, y, x_val, y_val, epochs=4) > 0.8  # chance 1/2


def point_clouds(rng, n, max_points=32, min_points=16):
    """Shapes `(n, max_points, 3)` + masks: sphere, cube or disc surfaces with 16-32 real points."""
    y = rng.integers(0, 3, n)
    x = np.zeros((n, max_points, 3), "float32")
    mask = np.zeros((n, max_points), bool)
    for i, label in enumerate(y):
        k = rng.integers(min_points, max_points + 1)
        p = rng.normal(size=(k, 3))
        if label == 0:  # sphere
            p /= np.linalg.norm(p, axis=1, keepdims=True)
        elif label == 1:  # cube surface: push the largest coordinate to +-1
            p = np.clip(p / np.abs(p).max(axis=1, keepdims=True), -1, 1)
        else:  # flat disc
            p[:, 2] = 0.0
            p /= max(1.0, np.linalg.norm(p, axis=1).max())
        x[i, :k] = 0.8 * rng.uniform(0.7, 1.0) * p
        x[i, k:] = rng.uniform(-1, 1, (max_points - k, 3))  # padding garbage the mask must hide
        mask[i, :k] = True
    return x, mask, y


def test_point_clouds_with_variable_counts_via_masks(rng):
    x, mask, y = point_clouds(rng, 256)
    x_val, mask_val, y_val = point_clouds(rng, 128)
    model = build_classifier("modelnet40", (None, 3), 3, use_input_mask=True, **{**TINY, "max_resolution": 16})
    assert model.backbone.get_layer("adapter").output.shape == (None, None, 3 + 3 * 17)
    # Padding is invisible: garbage in masked slots, or dropping them, changes nothing.
    first = {"inputs": x[:1, :16], "input_mask": mask[:1, :16]}
    padded = {"inputs": x[:1], "input_mask": np.concatenate([mask[:1, :16], np.zeros((1, 16), bool)], axis=1)}
    np.testing.assert_allclose(model(first), model(padded), atol=1e-5)
    accuracy = fit_accuracy(
        model, {"inputs": x, "input_mask": mask}, y, {"inputs": x_val, "input_mask": mask_val}, y_val, epochs=6
    )
    assert accuracy > 0.7  # chance 1/3


def test_sensor_csv_npy_loader_and_activity_classification(tmp_path):
    # Six-channel IMU at two sampling rates and lengths, saved as CSV (with header) and NPY.
    x50, y50 = simulate_accelerometer(240, num_steps=64, sampling_rate=50.0, num_channels=6, seed=1)
    x25, y25 = simulate_accelerometer(240, num_steps=32, sampling_rate=25.0, num_channels=6, seed=2)
    header = ",".join(f"{axis}{s}" for s in ("acc", "gyro") for axis in "xyz")
    for i, (series, label) in enumerate(zip(x50, y50)):
        folder = tmp_path / ACTIVITY_CLASS_NAMES[label]
        folder.mkdir(exist_ok=True)
        np.savetxt(folder / f"a{i}.csv", series, delimiter=",", header=header, comments="")
    for i, (series, label) in enumerate(zip(x25, y25)):
        np.save(tmp_path / ACTIVITY_CLASS_NAMES[label] / f"b{i}.npy", series)

    recordings, labels, names = load_labelled_directory(tmp_path)
    assert names == sorted(ACTIVITY_CLASS_NAMES) and len(recordings) == 480
    first_csv = sorted((tmp_path / names[0]).glob("*.csv"))[0]
    np.testing.assert_allclose(load_time_series(first_csv, channels=["yacc", 5]), load_time_series(first_csv)[:, [1, 5]])
    # Bring everything to 50 Hz; 25 Hz recordings become 63 steps, then pad to 64 with a mask.
    recordings = [resample(r, 25.0, 50.0) if len(r) == 32 else r for r in recordings]
    x, mask = pad_batch(recordings, length=64)
    assert x.shape == (480, 64, 6) and mask.sum(axis=1).min() == 63

    order = np.random.default_rng(0).permutation(480)
    train, val = order[:384], order[384:]
    model = build_classifier("tiny", (64, 6), 4, input_kind="sequence", use_input_mask=True, **TINY)
    accuracy = fit_accuracy(
        model, {"inputs": x[train], "input_mask": mask[train]}, labels[train],
        {"inputs": x[val], "input_mask": mask[val]}, labels[val], epochs=8,
    )
    assert accuracy > 0.5  # chance 1/4


def test_resample_preserves_a_linear_signal():
    series = np.stack([np.arange(10.0), 2 * np.arange(10.0)], axis=1)
    out = resample(series, rate=10.0, target_rate=20.0)
    assert out.shape == (19, 2)
    np.testing.assert_allclose(out[:, 0], np.arange(19) / 2, atol=1e-6)


def test_resample_removes_content_above_the_new_nyquist_frequency():
    t = np.arange(400) / 100.0  # 4 s at 100 Hz
    kept, aliased = np.sin(2 * np.pi * 5 * t), np.sin(2 * np.pi * 40 * t)  # new Nyquist: 25 Hz
    out = resample(np.stack([kept, aliased, np.full_like(t, 3.0)], axis=1), rate=100.0, target_rate=50.0)
    assert out.shape == (200, 3)
    middle = slice(40, 160)  # away from the edges
    expected = np.sin(2 * np.pi * 5 * np.arange(200)[middle] / 50.0)
    np.testing.assert_allclose(out[middle, 0], expected, atol=0.03)
    # Plain interpolation would fold 40 Hz onto 10 Hz at full amplitude.
    assert np.abs(out[middle, 1]).max() < 0.02
    np.testing.assert_allclose(out[:, 2], 3.0, atol=1e-5)  # unit gain, edges included


# --- multi-label ----------------------------------------------------------------------------


def test_average_precision_matches_sklearn(rng):
    from sklearn.metrics import average_precision_score

    y_true = rng.random((50, 4)) < 0.3
    y_score = rng.normal(size=(50, 4)) + y_true
    for c in range(4):
        assert average_precision(y_true[:, c], y_score[:, c]) == pytest.approx(
            average_precision_score(y_true[:, c], y_score[:, c])
        )
    expected = np.mean([average_precision_score(y_true[:, c], y_score[:, c]) for c in range(4)])
    assert mean_average_precision(y_true, y_score) == pytest.approx(expected)
    assert mean_average_precision(y_true, y_true.astype(float)) == 1.0


def multi_label_tones(rng, n, length=32, channels=3):
    """`(n, length, channels)`: label k is on when channel k carries a tone (any subset on)."""
    y = (rng.random((n, channels)) < 0.5).astype("float32")
    t = np.arange(length) / length
    tone = np.sin(2 * np.pi * 8 * t[None, :, None] + rng.uniform(0, 2 * np.pi, (n, 1, channels)))
    return (y[:, None, :] * tone + 0.3 * rng.normal(size=(n, length, channels))).astype("float32"), y


def test_multi_label_sigmoid_head_reaches_high_map(rng):
    x, y = multi_label_tones(rng, 256)
    x_val, y_val = multi_label_tones(rng, 128)
    model = build_classifier("tiny", (32, 3), 3, input_kind="sequence", activation="sigmoid", **TINY)
    model.compile(keras.optimizers.RMSprop(3e-3), keras.losses.BinaryCrossentropy())
    model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    scores = np.asarray(model(x_val, training=False))
    print(f"validation mAP {mean_average_precision(y_val, scores):.3f}")
    assert np.abs(scores.sum(-1) - 1).max() > 0.5  # one probability per class, not a softmax over them
    assert mean_average_precision(y_val, scores) > 0.85  # random scores: ~0.5
