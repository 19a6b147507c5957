"""Load a trained `.keras` model with the preprocessing it carries in `model.metadata`, and feed it files.

`load_model(path)` is the public way in: it registers perceiver_tf's classes with Keras, checks the
file first (one line saying what it is instead of a model) and returns the `keras.Model`.
"""

from __future__ import annotations

import json
import os
import zipfile

from perceiver_tf.data.errors import error_reason
from perceiver_tf.errors import PerceiverError
from perceiver_tf.option_names import option_name


def load_model(path: str | os.PathLike):
    """The `keras.Model` saved at `path` (a `.keras` file written by `perceiver_tf.train`, `perceiver-tf
    train`, `convert` or `model.save`), with perceiver_tf's classes registered for Keras.

    Raises:
        PerceiverError: a missing, empty, truncated or foreign file, or one that does not build.
    """
    return load_trained_model(os.fspath(path), require_metadata=False)[0]


def load_trained_model(path: str, require_metadata: bool = True, flag: str = "model"):
    """`(model, metadata)` of a `.keras` file (written by `perceiver-tf train` when `require_metadata`);
    `flag`: the option that named the file (messages name it).

    Raises:
        PerceiverError: a missing, empty, truncated or foreign file, one that does not build, or
            (with `require_metadata`) a model without the metadata contract ("class_names",
            "modality", "preprocessing").
    """
    read_keras_config(path, flag)
    import keras  # importing perceiver_tf registered its classes for Keras (`keras_registration`)

    try:
        model = keras.saving.load_model(path)
    except (ValueError, TypeError, KeyError, OSError) as error:
        raise PerceiverError(f"{option_name(flag)} {path!r} does not load as a Keras model ({error_reason(error)}); "
                           "re-save it with the perceiver_tf version that wrote it, or train it again.") from error
    return model, (_checked_metadata(model, repr(path)) if require_metadata else getattr(model, "metadata", {}))


def trained_model(model):
    """`(model, metadata)` of a `keras.Model` or a `.keras` path, with the metadata of a training run
    (what evaluate, predict and plot_attention take).

    Raises:
        PerceiverError: a path that is not such a model, or a model without that metadata.
    """
    if isinstance(model, (str, os.PathLike)):
        return load_trained_model(os.fspath(model))
    return model, _checked_metadata(model, "this model")


def _checked_metadata(model, named: str) -> dict:
    """`model.metadata`, or a `PerceiverError` naming the model (`named`) and the keys of the contract it lacks."""
    metadata = getattr(model, "metadata", None)
    missing = missing_metadata(metadata) if isinstance(metadata, dict) else ["metadata"]
    if missing:
        raise PerceiverError(f"{named} lacks metadata {missing}; train it with perceiver_tf.train or "
                             "`perceiver-tf train`.")
    return metadata


#: What `perceiver-tf train` records in every model's metadata and the other commands read.
REQUIRED_METADATA = ("class_names", "modality", "preprocessing")
#: What converted models of other tasks record instead (`perceiver-tf convert`), by modality.
REQUIRED_CONVERTED_METADATA = {"text": ("modality", "tokenizer"), "optical_flow": ("modality", "inputs")}


def saved_metadata(config: dict) -> dict:
    """The metadata a `.keras` file's model config (`config.json`'s "config") gives the loaded model:
    its stored metadata, with its preprocessor's config as "preprocessing" (`PerceiverTask.metadata`)."""
    metadata = dict(config.get("metadata") or {})
    preprocessor = config.get("preprocessor")
    if isinstance(preprocessor, dict) and isinstance(preprocessor.get("config"), dict):
        metadata["preprocessing"] = preprocessor["config"].get("config")
    return metadata


def missing_metadata(metadata: dict) -> list[str]:
    """The `REQUIRED_METADATA` (or the `REQUIRED_CONVERTED_METADATA` of its modality) keys `metadata` lacks."""
    required = REQUIRED_CONVERTED_METADATA.get(metadata.get("modality"), REQUIRED_METADATA)
    return [key for key in required if key not in metadata]


def read_keras_config(path: str, flag: str = "model"):
    """The parsed `config.json` of a `.keras` archive, or a `PerceiverError` saying what `path` (given
    as option `flag`, e.g. "init_from") is instead."""
    flag = option_name(flag)
    if os.path.isdir(path):
        inside = os.path.join(path, "model.keras")
        hint = f"pass {inside!r}" if os.path.isfile(inside) else "pass the model.keras file"
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            hint = "that is a SavedModel (for TF Serving); pass the model.keras it was exported from"
        raise PerceiverError(f"{flag} {path!r} is a directory; {hint}.")
    if not os.path.isfile(path):
        raise PerceiverError(f"{flag} {path!r} does not exist.")
    if not path.endswith(".keras"):
        raise PerceiverError(f"{flag} {path!r} is not a .keras file (perceiver-tf reads Keras 3 .keras models).")
    if os.path.getsize(path) == 0:
        raise PerceiverError(f"{flag} {path!r} is empty (0 bytes): an interrupted copy or save; train or copy it again.")
    if not zipfile.is_zipfile(path):
        raise PerceiverError(f"{flag} {path!r} is not a .keras archive (corrupt or truncated); train or copy it again.")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "config.json" not in names:
            raise PerceiverError(f"{flag} {path!r} is a zip file without config.json, not a .keras model.")
        try:
            return json.loads(archive.read("config.json"))
        except (ValueError, zipfile.BadZipFile) as error:
            raise PerceiverError(f"{flag} {path!r} has an unreadable config.json ({error_reason(error)}); "
                               "the file is corrupt: train or copy it again.") from error


def non_finite_problem(example) -> str | None:
    """Why a prepared example (a tensor, or a dict per input) cannot be classified, or `None`:
    the model gives NaN for any NaN or Inf value, so such inputs are refused, not predicted."""
    import numpy as np

    parts = example.items() if isinstance(example, dict) else [("input", example)]
    bad = [name for name, value in parts if not np.isfinite(np.asarray(value, np.float64)).all()]
    return f"non-finite values (NaN or Inf) in the {', '.join(bad)} after preprocessing" if bad else None
