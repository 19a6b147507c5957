"""Load a trained `.keras` classifier with the preprocessing it carries in `model.metadata`."""

from __future__ import annotations

import os


def load_trained_model(path: str):
    """`(model, metadata)` of a `.keras` file written by `perceiver-tf train`.

    Raises:
        SystemExit: a missing file, or a model without the metadata contract
            ("class_names", "modality", "preprocessing").
    """
    if not os.path.isfile(path):
        raise SystemExit(f"error: --model {path!r} does not exist.")
    import keras

    import perceiver_tf  # noqa: F401  (registers the custom classes for deserialisation)

    model = keras.saving.load_model(path)
    metadata = getattr(model, "metadata", {})
    missing = [k for k in ("class_names", "modality", "preprocessing") if k not in metadata]
    if missing:
        raise SystemExit(f"error: {path!r} lacks metadata {missing}; train it with `perceiver-tf train`.")
    return model, metadata


def processor_for(metadata: dict):
    """The data processor that reproduces the model's preprocessing."""
    from perceiver_tf.data import DataOptions
    from perceiver_tf.data.sources import make_processor

    options = DataOptions.from_preprocessing(metadata["preprocessing"])
    return make_processor(metadata["modality"], options, None), options
