"""Sensor-stream folders, audio + video clip folders and CSV manifests (multi-label): read as the model sees them."""

import os
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from perceiver_tf.data import DataOptions, PipelineOptions, batched, load_source, load_time_series, read_manifest
from perceiver_tf.data.formats import detect_modality
from perceiver_tf.testing.synthetic import (
    MULTI_LABEL_CLASSES,
    write_audio_video_folder,
    write_multi_label_manifest,
    write_sensor_folder,
)

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml


def _first_batch(source, training=False, batch_size=64):
    return next(iter(batched(source.train if training else source.val, source.processor, training,
                             len(source.class_names), PipelineOptions(batch_size, one_hot=source.multi_label))))


def test_sensor_folder_mixes_csv_and_npy_and_pads_to_the_longest(tmp_path):
    names = write_sensor_folder(str(tmp_path), per_class=4, num_channels=5, steps=(20, 30))
    source = load_source(str(tmp_path))
    lengths = [len(load_time_series(os.path.join(tmp_path, n, f))) for n in names for f in os.listdir(tmp_path / n)]
    assert source.modality == "sensors" and source.processor.input_kind == "sequence"
    assert source.processor.input_shape == (max(lengths), 5) and source.class_names == names
    x, _ = _first_batch(source)
    assert x["inputs"].shape[1:] == (max(lengths), 5) and x["input_mask"].shape[1:] == (max(lengths),)
    # Evaluation pads at the end with zeros (centre crop of a longer one), masked; a recording's rows are unchanged.
    path = sorted((tmp_path / names[0]).iterdir())[0]
    series = load_time_series(path)
    prepared = source.processor.prepare(source.processor.decode_file(tf.constant(str(path))), False,
                                        tf.zeros([2], tf.int32))
    np.testing.assert_allclose(prepared["inputs"][: len(series)], series, atol=1e-5)
    assert not prepared["inputs"][len(series):].numpy().any()
    assert prepared["input_mask"].numpy().tolist() == [True] * len(series) + [False] * (max(lengths) - len(series))
    assert load_source(str(tmp_path), DataOptions(num_steps=8)).processor.input_shape == (8, 5)


def test_sensor_files_with_different_channel_counts_are_an_error(tmp_path):
    write_sensor_folder(str(tmp_path), per_class=2, num_channels=3)
    np.save(tmp_path / "rest" / "wide.npy", np.zeros((30, 4), np.float32))
    with pytest.raises(ValueError, match=r"one channel count; found \[3, 4\]"):
        load_source(str(tmp_path))


def test_npy_only_folders_need_a_modality():
    with pytest.raises(ValueError, match="modality='points' or modality='sensors'"):
        detect_modality(["a/x.npy", "b/y.npy"])
    assert detect_modality(["a/x.npy", "b/y.csv"]) == "sensors"
    assert detect_modality(["a/x.npy", "b/y.ply"]) == "points"
    assert detect_modality(["a/x.npy"], "sensors") == "sensors"
    with pytest.raises(ValueError, match="several modalities"):
        detect_modality(["a/x.csv", "b/y.ply"])


def test_audio_video_clip_folders_from_frames_and_npy(tmp_path):
    names = write_audio_video_folder(str(tmp_path), per_class=3, frames=5, size=6)
    source = load_source(str(tmp_path), DataOptions(sample_rate=8000, clip_seconds=0.25, num_mel_bins=8,
                                                    num_frames=4))
    assert source.modality == "audio_video" and source.class_names == names
    assert source.processor.input_shape == {"audio": (11, 8), "video": (4, 6, 6, 1)}
    x, _ = _first_batch(source)
    assert {k: v.shape[1:] for k, v in x.items()} == {"audio": (11, 8), "video": (4, 6, 6, 1)}
    # Frames as PNG files and as one .npy array decode to the same pixels.
    png_clip, npy_clip = (str(tmp_path / names[0] / f"clip_{i:03d}") for i in (0, 1))
    assert any(f.endswith(".png") for f in os.listdir(png_clip)) and os.path.exists(os.path.join(npy_clip, "video.npy"))
    decoded = source.processor.video.decode_file(tf.constant(npy_clip)).numpy()
    np.testing.assert_allclose(decoded, np.load(os.path.join(npy_clip, "video.npy")) / 255.0, atol=1e-6)
    frames = source.processor.video.decode_file(tf.constant(png_clip)).numpy()
    assert frames.shape == (5, 6, 6, 1) and 0.0 <= frames.min() and frames.max() <= 1.0
    centre = source.processor.video.prepare(tf.constant(frames), False, tf.zeros([2], tf.int32)).numpy()
    np.testing.assert_array_equal(centre, frames[0:4])  # 5 frames -> the centred 4 (start 0)


def test_multi_label_manifest_gives_multi_hot_labels(tmp_path):
    path = write_multi_label_manifest(str(tmp_path), count=20)
    files, labels = read_manifest(path)
    assert len(files) == 20 and all(os.path.isfile(f) for f in files)
    source = load_source(path, DataOptions(validation_fraction=0.25))
    assert source.multi_label and source.class_names == sorted(MULTI_LABEL_CLASSES)
    assert (source.num_train, source.num_val) == (15, 5)
    x, y = _first_batch(source, training=True)
    assert x["inputs"].shape[1:] == (32, 3) and y.dtype == tf.float32 and y.shape[1:] == (3,)
    seen = {tuple(row) for row in y.numpy()}
    expected = {tuple(float(c in names) for c in sorted(MULTI_LABEL_CLASSES)) for names in labels}
    assert seen <= expected  # every row is some file's multi-hot label set
    relabelled = source.relabel(["tone_z", "extra", "tone_x", "tone_y"])
    _, y_val = _first_batch(relabelled)
    _, original = _first_batch(source)
    np.testing.assert_array_equal(y_val.numpy(), original.numpy()[:, [2, 2, 0, 1]] * [1, 0, 1, 1])


def test_mixup_blends_multi_hot_label_sets(tmp_path):
    source = load_source(write_multi_label_manifest(str(tmp_path), count=20), DataOptions(validation_fraction=0.25))
    options = PipelineOptions(15, one_hot=True)
    plain = next(iter(batched(source.train, source.processor, True, 3, options)))
    mixed = next(iter(batched(source.train, source.processor, True, 3, replace(options, mixup_alpha=0.4))))
    (x, y), (mixed_x, mixed_y) = ((t["inputs"].numpy(), labels.numpy()) for t, labels in (plain, mixed))
    lam = np.linalg.lstsq((x - x[::-1]).reshape(-1, 1), (mixed_x - x[::-1]).reshape(-1), rcond=None)[0][0]
    assert 0.0 < lam < 1.0 and not np.allclose(mixed_y, y)
    np.testing.assert_allclose(mixed_y, lam * y + (1 - lam) * y[::-1], atol=1e-5)  # soft multi-hot targets


def test_single_label_manifest_and_manifest_errors(tmp_path):
    write_sensor_folder(str(tmp_path), per_class=3, num_channels=2)
    rows = [f"{name}/{f},{name}" for name in ("rest", "run") for f in sorted(os.listdir(tmp_path / name))]
    (tmp_path / "list.csv").write_text("file,labels\n" + "\n".join(rows) + "\n")
    source = load_source(str(tmp_path / "list.csv"))
    assert not source.multi_label and source.class_names == ["rest", "run"]
    assert _first_batch(source)[1].dtype == tf.int32
    assert load_source(str(tmp_path / "list.csv"), DataOptions(multi_label=True)).multi_label
    (tmp_path / "missing.csv").write_text("file,labels\nnope.csv,rest\nrest/000.csv,run\n")
    with pytest.raises(ValueError, match="do not exist: nope.csv"):
        load_source(str(tmp_path / "missing.csv"))
    (tmp_path / "columns.csv").write_text("path,label\nrest/000.csv,rest\n")
    with pytest.raises(ValueError, match="header 'file,labels'"):
        load_source(str(tmp_path / "columns.csv"))
