"""Source kind `tfrecord`: TFRecord files (a `.tfrecord*` file, a glob, or a folder of them) of
`tf.train.Example`s: encoded images/audio or flat point lists, with labels.

Keys read (the TF-slim / ImageNet convention): "image/encoded" (PNG/JPEG/... bytes) or
"audio/encoded" (WAV bytes) or "points" (float list, xyz triples), and "label" or
"image/class/label" (int64). Class names come from a `labels.txt` (one per line) next to the
files, else label numbers. Files whose name contains "val" or "test" are the validation split;
without such files a seeded hashed fraction of the records is held out.
"""

from __future__ import annotations

import glob
import os

import tensorflow as tf

from perceiver_tf.data.options import DataOptions
from perceiver_tf.data.processor_factory import make_processor
from perceiver_tf.data.source import DataSource, register_source
from perceiver_tf.data.splits import hashed_split

INPUT_KEYS = {"image/encoded": "image", "audio/encoded": "audio", "points": "points"}
LABEL_KEYS = ("label", "image/class/label", "audio/class/label")


def _schema(path: str) -> tuple[str, str]:
    """(input key, label key) of the first record of `path`."""
    record = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
    if record is None:
        raise ValueError(f"TFRecord file {path!r} is empty.")
    keys = set(tf.train.Example.FromString(record.numpy()).features.feature)
    input_key = next((k for k in INPUT_KEYS if k in keys), None)
    label_key = next((k for k in LABEL_KEYS if k in keys), None)
    if input_key is None or label_key is None:
        raise ValueError(
            f"TFRecord {path!r} has keys {sorted(keys)}; expected one of {list(INPUT_KEYS)} and one of {list(LABEL_KEYS)}."
        )
    return input_key, label_key


def tfrecord_files(spec: str) -> list[str]:
    """The TFRecord files `spec` names: a `.tfrec*` file, a glob, or a folder's `*.tfrecord*` files (sorted)."""
    pattern = os.path.join(spec, "*.tfrecord*") if os.path.isdir(spec) else spec
    if os.path.isfile(spec) and ".tfrec" not in spec:
        return []
    return sorted(glob.glob(pattern)) if ".tfrec" in pattern or glob.has_magic(pattern) else []


def load_tfrecord_spec(spec: str, options: DataOptions) -> DataSource:
    """The TFRecord files `spec` names (`tfrecord_files`) as a `DataSource` (`load_tfrecords`)."""
    return load_tfrecords(tfrecord_files(spec), options)


def load_tfrecords(files: list[str], options: DataOptions) -> DataSource:
    """Read `files` into a `DataSource` (see the module docstring for the record layout)."""
    input_key, label_key = _schema(files[0])
    modality = options.modality or INPUT_KEYS[input_key]
    is_val = lambda f: any(w in os.path.basename(f).lower() for w in ("val", "test"))  # noqa: E731
    val_files = [f for f in files if is_val(f)]
    train_files = [f for f in files if not is_val(f)] if val_files else files
    if not train_files:
        raise ValueError(f"All TFRecord files look like validation files: {files}")
    spec = {label_key: tf.io.FixedLenFeature([], tf.int64),
            input_key: tf.io.VarLenFeature(tf.float32) if input_key == "points" else tf.io.FixedLenFeature([], tf.string)}
    labels = [int(tf.io.parse_single_example(r, {label_key: spec[label_key]})[label_key])
              for r in tf.data.TFRecordDataset(files)]
    num_classes = max(labels) + 1
    names_file = os.path.join(os.path.dirname(files[0]), "labels.txt")
    if os.path.exists(names_file):
        with open(names_file) as f:
            class_names = [line.strip() for line in f if line.strip()]
    else:
        class_names = [str(i) for i in range(num_classes)]
    if len(class_names) < max(num_classes, 2):
        raise ValueError(f"TFRecords need >= 2 classes covering labels 0..{num_classes - 1}; class names: {class_names}")
    sample_shape = None
    if modality == "image":
        first = tf.io.parse_single_example(next(iter(tf.data.TFRecordDataset(files[0]))), spec)[input_key]
        sample_shape = tuple(tf.io.decode_image(first, expand_animations=False).shape)
    processor = make_processor(modality, options, sample_shape)

    def decode(record):
        example = tf.io.parse_single_example(record, spec)
        value = example[input_key]
        if modality == "points":
            decoded = processor.from_decoded(tf.reshape(tf.sparse.to_dense(value), [-1, 3]))
        else:  # encoded image or WAV bytes
            decoded = processor.decode_bytes(value)
        return decoded, tf.cast(example[label_key], tf.int32)

    read = lambda fs: tf.data.TFRecordDataset(fs).map(decode, num_parallel_calls=tf.data.AUTOTUNE,  # noqa: E731
                                                      deterministic=True)
    if val_files:
        train, val = read(train_files), read(val_files)
    else:
        train, val = hashed_split(read(files), options.validation_fraction, options.seed)
    return DataSource(train, val, class_names, processor, explicit_val=bool(val_files))


register_source("tfrecord", lambda spec: bool(tfrecord_files(spec)), load_tfrecord_spec,
                "TFRecord file(s) (a file, a glob or a folder of them)")
