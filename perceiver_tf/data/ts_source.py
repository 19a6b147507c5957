"""Source kind `ts`: a UCR/UEA archive `.ts` file (`ts_format`) of labelled series, read as sensor
recordings `(T_i, C)` (the sensor processor crops or zero-pads them to one length).

Validation: for `<name>_TRAIN.ts`, the `<name>_TEST.ts` beside it when there is one (the archive's
official split, as a folder's `test/` sub-folder is: `explicit_val`); otherwise (any other name, or
no such file) a seeded stratified `validation_fraction` of the file's series. Class names are the
labels `@classLabel` declares, in its order. Missing values (`?`) are refused, naming the line.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from perceiver_tf.data.options import DataOptions
from perceiver_tf.data.processor_factory import make_processor
from perceiver_tf.data.source import DataSource, register_source
from perceiver_tf.data.splits import stratified_split
from perceiver_tf.data.ts_format import TsData, TsFormatError, read_ts
from perceiver_tf.option_names import option_name

TRAIN_SUFFIX, TEST_SUFFIX = "_TRAIN.ts", "_TEST.ts"


def matching_test_file(path: str) -> str | None:
    """The `<name>_TEST.ts` beside a `<name>_TRAIN.ts` (any case of the suffix), or `None`."""
    if not path.upper().endswith(TRAIN_SUFFIX.upper()):
        return None
    test = path[: -len(TRAIN_SUFFIX)] + TEST_SUFFIX
    return test if os.path.isfile(test) else None


def load_ts(path: str, options: DataOptions) -> DataSource:
    """The labelled series of the `.ts` file at `path` (and of its `_TEST.ts`: module docstring).

    Raises:
        ValueError: a malformed file (`TsFormatError`, naming the file and line), a file without
            class labels or with missing values, a test file whose labels or channel count differ
            from the training file's, no series left to validate on, or options of another modality.
    """
    if options.modality not in (None, "sensors"):
        raise ValueError(f"A .ts file holds sensor recordings, not {options.modality}; remove "
                         f"{option_name('modality')} or set it to sensors.")
    train = _labelled(path)
    class_names = train.class_names
    labels = np.array([class_names.index(label) for label in train.labels], np.int32)
    test_path = matching_test_file(path)
    if test_path is None:
        train_index, val_index = stratified_split(labels, options.validation_fraction, options.seed)
        pick = lambda index: ([train.series[i] for i in index], labels[index])  # noqa: E731
        (train_series, train_labels), (val_series, val_labels) = pick(train_index), pick(val_index)
        if not val_series:
            raise ValueError(f"{path}: no series to validate on (every class has a single series); put a "
                             f"{TEST_SUFFIX} file beside a {TRAIN_SUFFIX} one, or add series.")
    else:
        test = _labelled(test_path)
        _check_matches(test, test_path, train, path)
        train_series, train_labels = train.series, labels
        val_series, val_labels = test.series, np.array([class_names.index(label) for label in test.labels], np.int32)
    longest = max(len(s) for s in train_series + val_series)
    processor = make_processor("sensors", options, (longest, train.channels))
    split = lambda series, y: _dataset(series, y).map(  # noqa: E731
        lambda example, label: (processor.from_decoded(example), label), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True)
    return DataSource(split(train_series, train_labels), split(val_series, val_labels), list(class_names), processor,
                      len(train_series), len(val_series), explicit_val=test_path is not None)


def _labelled(path: str) -> TsData:
    """`read_ts(path)`, refusing a file without class labels or with missing values."""
    data = read_ts(path)
    if data.labels is None:
        raise TsFormatError(path, data.lines[0], "the file has no class labels (@classLabel false); training "
                                                 "and evaluation need them")
    missing = next((line for s, line in zip(data.series, data.lines) if np.isnan(s).any()), None)
    if missing is not None:
        raise TsFormatError(path, missing, "missing values ('?'); fill them (e.g. by interpolation) or drop the "
                                           "series")
    return data


def _check_matches(test: TsData, test_path: str, train: TsData, train_path: str) -> None:
    """The test file reads as the training file: its labels among the training file's, one channel count."""
    unknown = sorted(set(test.labels) - set(train.class_names))
    if unknown:
        raise ValueError(f"{test_path} has class labels {unknown} that {train_path} does not declare "
                         f"({' '.join(train.class_names)}).")
    if test.channels != train.channels:
        raise ValueError(f"{test_path} has {test.channels} dimension(s), {train_path} {train.channels}.")


def _dataset(series: list[np.ndarray], labels: np.ndarray) -> tf.data.Dataset:
    """`(example (T_i, C) float32, label int32)` pairs of series of any lengths (one ragged tensor)."""
    lengths = [len(s) for s in series]
    ragged = tf.RaggedTensor.from_row_lengths(np.concatenate(series).astype(np.float32), lengths)
    return tf.data.Dataset.from_tensor_slices((ragged, labels))


register_source("ts", lambda spec: spec.lower().endswith(".ts") and os.path.isfile(spec), load_ts,
                "a UCR/UEA .ts file of labelled series")
