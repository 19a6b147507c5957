"""In-memory arrays as a `DataSource` (`from_arrays`): no spec names them, so no kind is registered."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from perceiver_tf.data.options import DataOptions
from perceiver_tf.data.processor_factory import make_processor
from perceiver_tf.data.source import DataSource
from perceiver_tf.data.splits import stratified_split
from perceiver_tf.option_names import option_name


def from_arrays(x, y, class_names: list[str] | None = None, options: DataOptions | None = None,
                validation_index=None) -> DataSource:
    """In-memory arrays: images `(N, H, W[, C])` (pixels 0-255), point clouds `(N, P, 3)`,
    mono audio `(N, T)` at `options.sample_rate`, or sensor streams `(N, T, C)` (`modality="sensors"`).

    Args:
        x / y: examples and integer labels.
        class_names: names for labels `0..K-1` (default: the label numbers).
        validation_index: indices held out for validation (default: a seeded stratified split).

    Raises:
        ValueError: x and y of different lengths, negative labels, too few class names, a shape
            whose modality cannot be told, or non-finite values.
    """
    options = options or DataOptions()
    x, y = np.asarray(x), np.asarray(y).astype(np.int32).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length. Received: {len(x)} and {len(y)}")
    if y.size == 0 or y.min() < 0:
        raise ValueError("y must hold at least one non-negative integer label per example.")
    num_classes = int(y.max()) + 1
    class_names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    if len(class_names) < max(num_classes, 2):
        raise ValueError(f"Need >= 2 class names covering labels 0..{num_classes - 1}; got {class_names}")
    # Rank 3 is a point cloud when the last axis is xyz, else grey images (N, H, W).
    guessed = {4: "image", 3: "points" if x.shape[-1] == 3 else "image", 2: "audio"}.get(x.ndim)
    modality = options.modality or guessed
    if x.ndim == 3 and modality == "image":
        x = x[..., None]
    if modality is None or (modality == "points" and x.shape[-1] != 3) or (modality == "sensors" and x.ndim != 3):
        raise ValueError(f"Cannot tell the modality of arrays of shape {x.shape}; pass {option_name('modality')}.")
    processor = make_processor(modality, options, x.shape[1:])
    x = x.astype(np.float32)
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(f"x has NaN or infinite values (as float32) in {len(bad)} example(s) "
                         f"(indices {bad[:10].tolist()}); clean or drop them.")
    if validation_index is None:
        train_index, validation_index = stratified_split(y, options.validation_fraction, options.seed)
    else:
        train_index = np.setdiff1d(np.arange(len(y)), validation_index)
    decode = {"image": processor.from_decoded, "points": processor.from_decoded, "sensors": processor.from_decoded,
              "audio": lambda w: processor.from_decoded(w, options.sample_rate)}[modality]
    split = lambda index: tf.data.Dataset.from_tensor_slices((x[index], y[index])).map(  # noqa: E731
        lambda example, label: (decode(example), label), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return DataSource(split(train_index), split(validation_index), class_names, processor,
                      len(train_index), len(validation_index))
