"""Data sources: folder scanning and splits, modality detection, file readers, bad inputs, TFDS, TFRecord."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from perceiver_tf.data import (
    DataOptions,
    PipelineOptions,
    batched,
    from_arrays,
    load_source,
    register_source,
    source_kinds,
)
from perceiver_tf.data import source as source_module
from perceiver_tf.data.folder import scan_folder
from perceiver_tf.data.point_files import read_point_file
from perceiver_tf.option_names import use_command_line_names
from perceiver_tf.testing.synthetic import sample_shape, write_image_folder, write_point_file, write_points_folder

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml


def _batches(source, training, seed=0):
    options = PipelineOptions(batch_size=8, seed=seed)
    return [(x.numpy(), y.numpy()) for x, y in batched(source.train if training else source.val, source.processor,
                                                      training, len(source.class_names), options)]


def test_image_folder_seeded_split_and_deterministic_pipeline(tmp_path):
    write_image_folder(str(tmp_path), per_class=5, size=12)
    source = load_source(str(tmp_path), DataOptions(seed=3))
    assert source.class_names == ["centre", "left", "right"]
    assert (source.num_train, source.num_val) == (12, 3)  # one of five per class held out
    assert source.modality == "image" and source.processor.input_shape == (12, 12, 3)
    assert source.metadata["preprocessing"] == {"modality": "image", "image_size": [12, 12], "channels": 3,
                                                "scale": 1 / 255, "offset": 0.0}
    first, second = _batches(source, True), _batches(load_source(str(tmp_path), DataOptions(seed=3)), True)
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    x, y = map(np.concatenate, zip(*_batches(source, False)))
    assert x.shape == (3, 12, 12, 3) and 0.0 <= x.min() and x.max() <= 1.0 and sorted(y) == [0, 1, 2]
    # The pixels match a direct decode of the file (scale 1/255, no resize at the native size).
    path = os.path.join(tmp_path, "right", "000.png")
    direct = tf.io.decode_png(tf.io.read_file(path)).numpy() / 255.0
    np.testing.assert_allclose(source.processor.decode_file(tf.constant(path)).numpy(), direct, atol=1e-5)


def test_train_val_subfolders_are_used_as_given(tmp_path):
    write_image_folder(str(tmp_path / "train"), per_class=3, size=8)
    write_image_folder(str(tmp_path / "validation"), per_class=2, size=8, seed=1)
    index = scan_folder(str(tmp_path))
    assert index.explicit_val and len(index.train.paths) == 9 and len(index.val.paths) == 6
    assert all("/validation/" in p for p in index.val.paths)


@pytest.mark.parametrize("extension", [".npy", ".npz", ".xyz", ".txt", ".ply", ".off"])
def test_point_file_readers_round_trip(tmp_path, extension):
    points = sample_shape("cube", 17, np.random.default_rng(0))
    path = write_point_file(str(tmp_path / "cloud"), points, extension)
    np.testing.assert_allclose(read_point_file(path), points, atol=1e-5)


def test_binary_ply_and_modelnet_off_quirk(tmp_path):
    points = np.arange(12, dtype=np.float32).reshape(4, 3)
    header = b"ply\nformat binary_little_endian 1.0\nelement vertex 4\nproperty float x\nproperty float y\n" \
             b"property float z\nproperty uchar red\nend_header\n"
    table = np.zeros(4, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1")])
    table["x"], table["y"], table["z"] = points.T
    (tmp_path / "b.ply").write_bytes(header + table.tobytes())
    np.testing.assert_array_equal(read_point_file(str(tmp_path / "b.ply")), points)
    (tmp_path / "m.off").write_text("OFF4 0 0\n" + "\n".join(" ".join(map(str, p)) for p in points))
    np.testing.assert_array_equal(read_point_file(str(tmp_path / "m.off")), points)


def test_points_pipeline_samples_with_replacement_into_unit_sphere(tmp_path):
    write_points_folder(str(tmp_path), per_class=4, counts=(20, 40))
    source = load_source(str(tmp_path), DataOptions(num_points=64, rotate=True, jitter=0.01))
    assert source.modality == "points" and source.processor.input_shape == (64, 3)
    for training in (True, False):
        x, _ = _batches(source, training)[0]
        assert x.shape[1:] == (64, 3)
        radius = np.linalg.norm(x, axis=-1).max(axis=1)
        np.testing.assert_allclose(radius, 1.0, atol=0.05)  # on the unit sphere, up to jitter
    x_eval_1 = _batches(source, False)[0][0]
    np.testing.assert_array_equal(x_eval_1, _batches(source, False, seed=9)[0][0])  # evaluation is deterministic


def test_arrays_source_and_relabel():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (20, 6, 6)).astype(np.float32)
    y = np.arange(20) % 2
    source = from_arrays(x, y, ["cat", "dog"], DataOptions(validation_fraction=0.5))
    assert source.processor.input_shape == (6, 6, 1) and (source.num_train, source.num_val) == (10, 10)
    relabelled = source.relabel(["dog", "cat", "bird"])
    labels = np.concatenate([y.numpy() for _, y in relabelled.val.batch(32)])
    original = np.concatenate([y.numpy() for _, y in source.val.batch(32)])
    np.testing.assert_array_equal(labels, 1 - original)
    with pytest.raises(ValueError, match="not among the model's classes"):
        source.relabel(["dog"])


def test_tfrecord_source(tmp_path):
    write_image_folder(str(tmp_path / "png"), per_class=4, size=8)
    index = scan_folder(str(tmp_path / "png"))
    for name, files in (("train.tfrecord", index.train), ("val.tfrecord", index.val)):
        with tf.io.TFRecordWriter(str(tmp_path / name)) as writer:
            for path, label in zip(files.paths, files.labels):
                feature = {"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[open(path, "rb").read()])),
                           "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))}
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    (tmp_path / "labels.txt").write_text("\n".join(index.class_names))
    source = load_source(str(tmp_path / "*.tfrecord"))
    assert source.class_names == index.class_names and source.explicit_val and source.modality == "image"
    x, y = map(np.concatenate, zip(*_batches(source, False)))
    assert x.shape == (len(index.val.paths), 8, 8, 3)
    np.testing.assert_array_equal(y, index.val.labels)


def test_tfds_source_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        source = load_source("tfds:mnist", DataOptions(image_size=(14, 14)))
    assert source.class_names == [str(i) for i in range(10)]
    x, y = next(iter(batched(source.train, source.processor, True, 10, PipelineOptions(4))))
    assert x.shape == (4, 14, 14, 1) and y.dtype == tf.int32


def _one_class(root):
    write_image_folder(root, per_class=2)
    for name in ("centre", "right"):
        shutil.rmtree(os.path.join(root, name))


def _unknown_extension(root):
    for name in ("a", "b"):
        os.makedirs(os.path.join(root, name))
        open(os.path.join(root, name, "x.foo"), "w").close()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: None, "no class sub-folders"),
        (_one_class, "single class"),
        (_unknown_extension, r"No supported files found \(extensions seen: \.foo\)"),
    ],
    ids=["empty", "one-class", "unknown-extension"],
)
def test_bad_folders_fail_clearly(tmp_path, make, message):
    make(str(tmp_path))
    with pytest.raises(ValueError, match=message):
        load_source(str(tmp_path))


def test_corrupt_files_are_named_or_skipped(tmp_path):
    write_image_folder(str(tmp_path), per_class=3, size=8)
    corrupt = tmp_path / "right" / "broken.png"
    corrupt.write_bytes(b"\x89PNG not really")
    stray = tmp_path / "left" / "notes.md"
    stray.write_text("not an image")
    with pytest.raises(ValueError, match="notes.md"):
        load_source(str(tmp_path))
    stray.unlink()
    with pytest.raises(ValueError, match=r"(?s)1 image file\(s\) could not be decoded.*broken\.png"):
        load_source(str(tmp_path))
    stray.write_text("not an image")
    source = load_source(str(tmp_path), DataOptions(skip_bad_files=True))
    assert sorted(os.path.basename(p) for p in source.skipped) == ["broken.png", "notes.md"]
    assert source.num_train + source.num_val == 9


def test_unknown_tfds_name_and_source(tmp_path):
    with pytest.raises(ValueError, match=r"^Unknown TFDS dataset 'no_such_dataset_xyz' in data='tfds:no_such_"):
        load_source("tfds:no_such_dataset_xyz")
    notes = tmp_path / "notes.txt"
    notes.write_text("not data")
    with pytest.raises(ValueError) as raised:
        load_source(str(notes))
    assert str(raised.value) == (
        f"Unknown data {str(notes)!r}: expected 'digits', 'tfds:NAME[:SPLIT]', TFRecord file(s) (a file, a glob or "
        "a folder of them), a .csv manifest (file,labels), an .npz file with arrays x and y, a UCR/UEA .ts file of "
        "labelled series, or a folder with one sub-folder per class.")


@pytest.mark.parametrize("spec", ["/no/such/folder", "/no/such/train.csv", "/no/such/*.tfrecord"])
def test_a_missing_source_is_named_as_missing(spec):
    with pytest.raises(ValueError) as raised:
        load_source(spec)
    assert str(raised.value) == f"data {spec!r} does not exist."
    use_command_line_names()  # the `perceiver-tf` command's spelling (the next test starts with keywords again)
    with pytest.raises(ValueError) as raised:
        load_source(spec)
    assert str(raised.value) == f"--data {spec!r} does not exist."


def test_a_registered_source_kind_is_asked_after_the_built_in_ones(monkeypatch):
    monkeypatch.setattr(source_module, "_KINDS", dict(source_module._KINDS))  # registered for this test only
    register_source("pairs", lambda spec: spec.startswith("pairs:"),
                    lambda spec, options: from_arrays(np.zeros((8, 4, 4)), np.arange(8) % 2, options=options),
                    "'pairs:...'")
    assert [kind.name for kind in source_kinds()] == ["digits", "tfds", "tfrecord", "csv", "npz", "ts", "folder",
                                                            "pairs"]
    assert load_source("pairs:anything", DataOptions(validation_fraction=0.5)).num_val == 4
    with pytest.raises(ValueError, match=r"a UCR/UEA \.ts file of labelled series, a folder with one sub-folder per "
                                         r"class, or 'pairs:\.\.\.'\.$"):
        load_source(os.path.abspath(__file__))


def test_each_example_is_decoded_once_even_after_an_early_stop():
    """The cache is complete before training: a reader that stops after one batch (Keras' model
    build) neither discards it nor makes later epochs decode again."""
    decodes = []

    def decode(value):
        decodes.append(int(value))
        return value

    examples = tf.data.Dataset.range(20).map(
        lambda i: (tf.py_function(decode, [i], tf.int64), i % 2))

    class Identity:
        input_kind = "array"

        def prepare(self, example, training, seed):
            return tf.cast(example, tf.float32)

    dataset = batched(examples, Identity(), True, 2, PipelineOptions(batch_size=4, seed=0, shuffle_buffer=4), 20)
    next(iter(dataset))  # an early stop
    epochs = [sorted(int(v) for x, _ in dataset for v in x.numpy()) for _ in range(2)]
    assert epochs == [list(range(20))] * 2
    assert sorted(decodes) == list(range(20))
