"""Source kind `folder`: a class-per-sub-folder directory (`folder.scan_folder`: the layout, the
split) of images, audio, point clouds, sensor recordings or audio + video clip folders."""

from __future__ import annotations

import os

from perceiver_tf.data.folder import scan_folder
from perceiver_tf.data.options import DataOptions
from perceiver_tf.data.pipeline import decode_files, unreadable_error
from perceiver_tf.data.processor_factory import processor_for_files
from perceiver_tf.data.source import DataSource, register_source


def load_folder(root: str, options: DataOptions) -> DataSource:
    """A class-per-sub-folder directory; unreadable files fail clearly (each with its reason) or are skipped.

    Raises:
        ValueError: what `scan_folder` refuses, unreadable files (unless `options.skip_bad_files`),
            or too few readable files left for two classes and a validation split.
    """
    index = scan_folder(root, options.modality, options.validation_fraction, options.seed, options.skip_bad_files)
    processor, unreadable = processor_for_files(index.modality, index.train.paths + index.val.paths, options)
    if unreadable and not options.skip_bad_files:
        raise unreadable_error(unreadable, f"{index.modality} file(s)")
    keep = lambda files: ([p for p in files.paths if p not in unreadable],  # noqa: E731
                          [label for p, label in zip(files.paths, files.labels) if p not in unreadable])
    (train_paths, train_labels), (val_paths, val_labels) = keep(index.train), keep(index.val)
    if len(set(train_labels)) < 2 or not val_paths:
        raise ValueError(f"Too few readable files left in {root!r}: {len(train_paths)} train, {len(val_paths)} val.")
    reasons = {path: f"not a {index.modality} file (by extension)" for path in index.unsupported} | unreadable
    return DataSource(
        decode_files(train_paths, train_labels, processor.decode_file),
        decode_files(val_paths, val_labels, processor.decode_file),
        index.class_names, processor, len(train_paths), len(val_paths), list(reasons), reasons,
        explicit_val=index.explicit_val,
    )


register_source("folder", os.path.isdir, load_folder, "a folder with one sub-folder per class")
