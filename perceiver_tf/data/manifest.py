"""A CSV manifest of files and their labels: single-label or multi-label (AudioSet-style) data.

    file,labels
    clips/a.wav,dog;bark
    clips/b.wav,music
    clips/c.wav,

`file` is relative to the CSV's folder (or absolute); `labels` holds class names separated by
`;` (none is allowed: a negative example). Classes are the sorted set of names. The data is
multi-label when any file has no label or several (or `DataOptions.multi_label=True`): labels
become multi-hot vectors and the model scores each class independently. A seeded
`validation_fraction` of the files is held out. The modality comes from the files' extensions.

Source kind `csv`: a spec that is such a `.csv` file.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import tensorflow as tf

from perceiver_tf.data.formats import detect_modality
from perceiver_tf.data.options import DataOptions
from perceiver_tf.data.pipeline import decode_files, unreadable_error
from perceiver_tf.data.processor_factory import processor_for_files
from perceiver_tf.data.source import DataSource, register_source

LABEL_SEPARATOR = ";"


def read_manifest(path: str) -> tuple[list[str], list[list[str]]]:
    """`(files, labels per file)` of a manifest, files resolved against the CSV's folder.

    Raises:
        ValueError: no `file` / `labels` columns, no rows, or a listed file that does not exist.
    """
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"file", "labels"} <= set(rows[0]):
        raise ValueError(f"{path!r} must be a CSV with a header 'file,labels' and one row per file.")
    base = os.path.dirname(os.path.abspath(path))
    files = [os.path.join(base, row["file"]) for row in rows]
    missing = [row["file"] for row, f in zip(rows, files) if not os.path.isfile(f) and not os.path.isdir(f)]
    if missing:
        raise ValueError(f"{len(missing)} file(s) listed in {path!r} do not exist: {', '.join(missing[:10])}")
    labels = [[n.strip() for n in (row["labels"] or "").split(LABEL_SEPARATOR) if n.strip()] for row in rows]
    return files, labels


def load_manifest(path: str, options: DataOptions) -> DataSource:
    """A manifest (module docstring) -> `DataSource` (multi-hot labels when multi-label)."""
    files, labels = read_manifest(path)
    class_names = sorted({name for names in labels for name in names})
    if len(class_names) < 2:
        raise ValueError(f"{path!r} names {len(class_names)} class(es); a classifier needs at least 2.")
    multi_label = options.multi_label if options.multi_label is not None else any(len(n) != 1 for n in labels)
    if not multi_label and any(len(n) != 1 for n in labels):
        raise ValueError(f"{path!r} has files with no label or several; they need multi-label training.")
    modality = detect_modality(files, options.modality)
    processor, bad = processor_for_files(modality, files, options)
    if bad and not options.skip_bad_files:
        raise unreadable_error(bad, f"file(s) in {path!r}")
    keep = [i for i, f in enumerate(files) if f not in bad]
    targets = np.zeros((len(files), len(class_names)), np.float32)
    for i, names in enumerate(labels):
        targets[i, [class_names.index(n) for n in names]] = 1.0
    order = np.random.default_rng(options.seed).permutation(keep)
    num_val = max(1, int(round(options.validation_fraction * len(order))))
    if len(order) - num_val < 1:
        raise ValueError(f"{path!r} has too few readable files ({len(order)}) for a train and a validation split.")
    val, train = sorted(order[:num_val]), sorted(order[num_val:])

    def split(index):
        chosen = [files[i] for i in index]
        if multi_label:
            paths = tf.data.Dataset.from_tensor_slices((chosen, targets[index]))
            return paths.map(lambda p, y: (processor.decode_file(p), y), num_parallel_calls=tf.data.AUTOTUNE,
                             deterministic=True)
        return decode_files(chosen, [int(targets[i].argmax()) for i in index], processor.decode_file)

    return DataSource(split(train), split(val), class_names, processor, len(train), len(val), list(bad), bad,
                      multi_label=multi_label)


register_source("csv", lambda spec: spec.endswith(".csv") and os.path.isfile(spec), load_manifest,
                "a .csv manifest (file,labels)")
