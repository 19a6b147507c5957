"""Data settings read from all files, symlinked folders, decode errors with their reasons, overflow-safe
point normalisation, and options of another modality."""

import dataclasses
import os
import warnings

import numpy as np
import pytest
import tensorflow as tf

from perceiver_tf.data import (
    MODALITIES,
    MODALITY_OPTIONS,
    DataOptions,
    DataWarning,
    error_reason,
    from_arrays,
    load_source,
)
from perceiver_tf.data.images import ImageProcessor
from perceiver_tf.data.points import PointsProcessor
from perceiver_tf.data.processor_factory import make_processor
from perceiver_tf.option_names import use_command_line_names
from perceiver_tf.testing.synthetic import (
    write_audio_video_folder,
    write_image_folder,
    write_points_folder,
    write_sensor_folder,
)

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml


def _load_with_warnings(spec, options=None):
    """`(source, [DataWarning messages])` of `load_source(spec, options)`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = load_source(spec, options)
    return source, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def _png(path, height, width, channels):
    tf.io.write_file(str(path), tf.io.encode_png(np.full((height, width, channels), 90, np.uint8)))


# Image size and channels come from all files.

def test_a_tiny_grey_first_image_does_not_size_the_data(tmp_path):
    write_image_folder(str(tmp_path), per_class=4, size=12)
    _png(tmp_path / "centre" / "000.png", 1, 1, 1)  # the first file read, grey and 1x1
    source, warned = _load_with_warnings(str(tmp_path))
    assert source.processor.input_shape == (12, 12, 3)  # the median size; colour as any colour file
    assert len(warned) == 1 and "2 different sizes" in warned[0] and "12x12 (11), 1x1 (1)" in warned[0]
    assert "resized to 12x12" in warned[0] and "Pass image_size=(H, W) to choose the size." in warned[0]
    chosen, warned = _load_with_warnings(str(tmp_path), DataOptions(image_size=(6, 6)))
    assert chosen.processor.input_shape == (6, 6, 3) and not warned  # a chosen size needs no warning


def test_all_grey_images_stay_grey_and_the_size_is_the_median_by_area(tmp_path):
    for name, sizes in (("a", [(4, 4), (8, 6), (8, 6)]), ("b", [(20, 20), (8, 6), (8, 6)])):
        os.makedirs(tmp_path / name)
        for i, (height, width) in enumerate(sizes):
            _png(tmp_path / name / f"{i}.png", height, width, 1)
    source, warned = _load_with_warnings(str(tmp_path))
    assert source.processor.input_shape == (8, 6, 1)
    assert "3 different sizes" in warned[0] and "8x6 (4)" in warned[0]


def test_clip_frame_size_comes_from_all_clips(tmp_path):
    names = write_audio_video_folder(str(tmp_path), per_class=3, frames=4, size=6)
    odd = tmp_path / names[0] / "clip_001"  # an .npy clip
    np.save(odd / "video.npy", np.zeros((4, 2, 2, 3), np.uint8))  # tiny and in colour
    source, warned = _load_with_warnings(str(tmp_path), DataOptions(sample_rate=8000, clip_seconds=0.25,
                                                                    num_mel_bins=8, num_frames=4))
    assert source.processor.input_shape["video"] == (4, 6, 6, 3)
    assert "clips' video frames have 2 different sizes" in warned[0]


def test_manifest_images_are_sized_from_all_files(tmp_path):
    write_image_folder(str(tmp_path), per_class=3, size=10)
    _png(tmp_path / "left" / "000.png", 30, 2, 3)
    rows = [f"{name}/{f},{name}" for name in ("left", "right") for f in sorted(os.listdir(tmp_path / name))]
    (tmp_path / "list.csv").write_text("file,labels\n" + "\n".join(rows) + "\n")
    source, warned = _load_with_warnings(str(tmp_path / "list.csv"))
    assert source.processor.input_shape == (10, 10, 3) and "30x2 (1)" in warned[0]


# Symlinks.

def test_a_symlink_back_to_the_root_is_not_a_class(tmp_path):
    write_image_folder(str(tmp_path), per_class=3, size=8)
    os.symlink(tmp_path, tmp_path / "loop")
    os.symlink(tmp_path / "left", tmp_path / "alias")  # another class under a second name
    os.symlink(tmp_path / "right", tmp_path / "right" / "again")  # a loop inside a class
    source, warned = _load_with_warnings(str(tmp_path))
    assert source.class_names == ["centre", "left", "right"] and source.num_train + source.num_val == 9
    assert sorted(w.split(" ")[1] for w in warned) == sorted(str(tmp_path / p) for p in ("alias", "loop", "right/again"))
    assert any("the same folder as class 'left'" in w for w in warned)


def test_a_symlinked_class_outside_the_root_is_read_and_a_file_linked_twice_counts_once(tmp_path):
    write_image_folder(str(tmp_path / "data"), per_class=3, size=8)
    write_image_folder(str(tmp_path / "elsewhere"), per_class=2, size=8, seed=1)
    os.symlink(tmp_path / "elsewhere" / "left", tmp_path / "data" / "far")
    os.symlink(tmp_path / "data" / "left" / "000.png", tmp_path / "data" / "left" / "copy.png")
    source = load_source(str(tmp_path / "data"))
    assert source.class_names == ["centre", "far", "left", "right"]
    assert source.num_train + source.num_val == 3 * 3 + 2


def test_one_file_in_two_classes_or_both_splits_is_an_error_naming_both(tmp_path):
    write_image_folder(str(tmp_path), per_class=3, size=8)
    os.symlink(tmp_path / "left" / "001.png", tmp_path / "right" / "also_left.png")
    with pytest.raises(ValueError, match=r"left/001\.png and .*right/also_left\.png are the same file"):
        load_source(str(tmp_path))
    write_image_folder(str(tmp_path / "split" / "train"), per_class=3, size=8)
    write_image_folder(str(tmp_path / "split" / "val"), per_class=1, size=8)
    os.symlink(tmp_path / "split" / "train" / "left" / "002.png", tmp_path / "split" / "val" / "left" / "leak.png")
    with pytest.raises(ValueError, match=r"train/left/002\.png and .*val/left/leak\.png are the same file"):
        load_source(str(tmp_path / "split"))


# Every decode error says why.

def test_bad_point_and_sensor_files_are_listed_with_their_reasons(tmp_path):
    write_points_folder(str(tmp_path / "points"), per_class=3, counts=(20, 30))
    np.save(tmp_path / "points" / "cube" / "flat.npy", np.zeros((5, 2), np.float32))
    np.save(tmp_path / "points" / "cube" / "nan.npy", np.full((5, 3), np.nan, np.float32))
    with pytest.raises(ValueError) as raised:
        load_source(str(tmp_path / "points"))
    lines = str(raised.value).splitlines()
    assert lines[0].startswith("2 points file(s) could not be decoded")
    assert lines[1:] == [f"  {tmp_path}/points/cube/flat.npy: expected an (n >= 1, >= 3) array of points; got shape (5, 2)",
                         f"  {tmp_path}/points/cube/nan.npy: point cloud has NaN or infinite coordinates"]
    skipped = load_source(str(tmp_path / "points"), DataOptions(skip_bad_files=True))
    assert skipped.skip_reasons[f"{tmp_path}/points/cube/nan.npy"] == "point cloud has NaN or infinite coordinates"
    write_sensor_folder(str(tmp_path / "sensors"), per_class=2, num_channels=2)
    np.save(tmp_path / "sensors" / "run" / "bad.npy", np.array([[1.0, np.inf]], np.float32))
    with pytest.raises(ValueError, match=r"sensors/run/bad\.npy: the recording has NaN or infinite values$"):
        load_source(str(tmp_path / "sensors"))


def test_error_reason_strips_tensorflow_internals():
    eager = tf.errors.InvalidArgumentError(None, None, "{{function_node __wrapped__DecodeImage_device_/job:localhost}} "
                                                       "Unknown image file format. [Op:DecodeImage] name: ")
    assert error_reason(eager) == "Unknown image file format."
    graph = tf.errors.InvalidArgumentError(None, None, 'Graph execution error:\n\nDetected at node PyFunc defined at '
                                           '(most recent call last):\n  File "x.py", line 1, in f\n\nValueError: a.npy: '
                                           'bad shape\nTraceback (most recent call last):\n\t [[{{node PyFunc}}]]')
    assert error_reason(graph, "a.npy") == "bad shape"
    assert error_reason(ValueError("")) == "ValueError"


# Point normalisation.

def test_point_normalisation_is_overflow_safe_and_non_finite_points_are_rejected():
    cloud = np.random.default_rng(0).uniform(-1, 1, (50, 3)).astype(np.float32)
    processor = PointsProcessor(num_points=32)
    huge = processor.prepare(tf.constant(cloud * 3e38), False, tf.zeros([2], tf.int32)).numpy()
    np.testing.assert_allclose(huge, processor.prepare(tf.constant(cloud), False, tf.zeros([2], tf.int32)), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(huge, axis=-1).max(), 1.0, atol=1e-5)
    trained = processor.prepare(tf.constant(cloud * 3e38), True, tf.constant([1, 2])).numpy()
    assert np.isfinite(trained).all() and np.linalg.norm(trained, axis=-1).max() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="point cloud has NaN or infinite coordinates"):
        processor.decode_bytes(tf.constant(np.array([[0, 1, np.nan]], "<f4").tobytes()))
    with pytest.raises(ValueError, match=r"NaN or infinite values \(as float32\) in 1 example\(s\) \(indices \[3\]\)"):
        from_arrays(np.where(np.arange(6)[:, None, None] == 3, np.inf, np.ones((6, 8, 3))), np.arange(6) % 2)


# Options of another modality.

#: A value off the default for each modality-specific option.
_SET = {"image_size": (8, 8), "channels": 1, "rand_augment": True, "pixel_permutation_seed": 3, "sample_rate": 8000,
        "clip_seconds": 0.5, "audio_features": "waveform", "audio_patch_size": 100, "num_mel_bins": 32,
        "normalize_audio": True, "time_shift": 0.1, "gain_db": 3.0, "frequency_warp": 0.1, "num_points": 64,
        "rotate": "so3", "jitter": 0.01, "scale_range": (0.8, 1.2), "axis_scale_range": (0.9, 1.1),
        "point_dropout": 0.1, "point_align": "pca", "frame_sample": 0.5, "local_geometry": 8, "num_steps": 16, "center_recordings": True,
        "window_warp": 0.2,
        "num_frames": 4}
_SHAPES = {"image": (8, 8, 3), "sensors": (16, 3), "audio_video": (8, 8, 3)}
#: Options that only go together with another: added where the option's modality reads it.
_TOGETHER_WITH = {"frame_sample": {"point_align": "pca"}}


def test_every_modality_specific_option_is_in_the_table():
    general = {"modality", "validation_fraction", "seed", "skip_bad_files", "multi_label", "processor"}
    assert set(MODALITY_OPTIONS) == {f.name for f in dataclasses.fields(DataOptions)} - general == set(_SET)


@pytest.mark.parametrize("name", list(_SET))
def test_an_option_of_another_modality_is_an_error_naming_the_option(name):
    option, readers = MODALITY_OPTIONS[name]
    options = DataOptions(**{name: _SET[name]})
    for modality in MODALITIES:
        if modality in readers:
            together = DataOptions(**{name: _SET[name], **_TOGETHER_WITH.get(name, {})})
            assert make_processor(modality, together, _SHAPES.get(modality)).modality == modality
        else:
            with pytest.raises(ValueError, match=rf"^{option} applies to .*, but this data is .*; remove it\.$"):
                make_processor(modality, options, _SHAPES.get(modality))


def test_option_errors_read_as_a_fix_and_a_given_processor_skips_the_check():
    with pytest.raises(ValueError) as raised:
        make_processor("image", DataOptions(rotate=True))
    assert str(raised.value) == "rotate applies to point clouds, but this data is images; remove it."
    with pytest.raises(ValueError) as raised:
        make_processor("audio_video", DataOptions(rand_augment=True, num_steps=9, num_frames=3), (8, 8, 3))
    assert str(raised.value) == ("rand_augment applies to images; num_steps applies to sensor recordings, but this "
                                 "data is audio + video clips; remove them.")
    use_command_line_names()  # the `perceiver-tf` command's spelling (conftest restores the keywords)
    with pytest.raises(ValueError, match=r"^--permute-pixels applies to images, but this data is point clouds"):
        make_processor("points", DataOptions(pixel_permutation_seed=3))
    trained = ImageProcessor((4, 4), 1)
    assert make_processor("image", DataOptions(rotate=True, processor=trained)) is trained
