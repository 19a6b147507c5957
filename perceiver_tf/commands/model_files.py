"""Load a trained `.keras` classifier with the preprocessing it carries in `model.metadata`."""

from __future__ import annotations

import os


def load_trained_model(path: str, require_metadata: bool = True):
    """`(model, metadata)` of a `.keras` file (written by `perceiver-tf train` when `require_metadata`).

    Raises:
        SystemExit: a missing file, or (with `require_metadata`) a model without the metadata
            contract ("class_names", "modality", "preprocessing").
    """
    if not os.path.isfile(path):
        raise SystemExit(f"error: --model {path!r} does not exist.")
    import keras  # the package (imported with this module) has registered its custom classes

    model = keras.saving.load_model(path)
    metadata = getattr(model, "metadata", {})
    missing = [k for k in ("class_names", "modality", "preprocessing") if k not in metadata]
    if require_metadata and missing:
        raise SystemExit(f"error: {path!r} lacks metadata {missing}; train it with `perceiver-tf train`.")
    return model, metadata


def processor_for(metadata: dict):
    """The data processor that reproduces the model's preprocessing."""
    from perceiver_tf.data import DataOptions
    from perceiver_tf.data.sources import make_processor

    options = DataOptions.from_preprocessing(metadata["preprocessing"])
    return make_processor(metadata["modality"], options, None), options


def model_input_from_file(processor, path):
    """One file (a string tensor) -> the model input `(*input_shape)` of the evaluation pipeline."""
    import tensorflow as tf

    return processor.prepare(processor.decode_file(path), False, tf.zeros([2], tf.int32))


def first_error_line(error: Exception) -> str:
    """The first line of an error's message, or its type name when the message is empty."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
