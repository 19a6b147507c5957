"""Load a trained `.keras` model with the preprocessing it carries in `model.metadata`, and feed it files."""

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
    from perceiver_tf.data import processor_from_config

    return processor_from_config(metadata["preprocessing"])


def model_input_from_file(processor, path):
    """One file (a string tensor) -> the example `(*input_shape)` (or dict of them) of the evaluation pipeline."""
    import tensorflow as tf

    return processor.prepare(processor.decode_file(path), False, tf.zeros([2], tf.int32))


def as_model_inputs(model, example):
    """One example (a tensor, or a dict per input) -> a batch of one in the structure the model takes,
    with all-True element and modality masks where the model has mask inputs (a decoded file is all real)."""
    import numpy as np

    data = {name: np.asarray(value)[None] for name, value in (example.items() if isinstance(example, dict)
                                                               else [("inputs", example)])}
    if not isinstance(model.input, dict):
        return data["inputs"]
    inputs = {}
    for name, tensor in model.input.items():
        if name in data:
            inputs[name] = data[name]
            continue
        # A mask. A variable element count (point clouds) is the example's own: no patches there.
        owner = "inputs" if name == "input_mask" else name[: -len("_mask")]
        length = tensor.shape[1] if tensor.shape[1] is not None else data[owner].shape[1]
        inputs[name] = np.ones((1, length), bool)
    return inputs


def first_error_line(error: Exception) -> str:
    """The first line of an error's message, or its type name when the message is empty."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
