"""`perceiver_tf.export_model`: a trained model -> a TF Serving SavedModel or a TFLite flatbuffer, with a
summary of what was written (the one implementation behind `perceiver-tf export`)."""

from __future__ import annotations

import os
from pathlib import Path

from perceiver_tf.errors import OptionError, PerceiverError
from perceiver_tf.export.quantization import DEFAULT_CALIBRATION_EXAMPLES, QUANTIZATIONS
from perceiver_tf.option_names import option, option_name
from perceiver_tf.workflows.values import check_choice, non_negative_int, positive_int

FORMATS = ("saved_model", "tflite")


def export_model(model, output: str | os.PathLike, format: str = "saved_model", version: int | None = None,
                 quantize: str = "none", representative_data: str | None = None,
                 calibration_examples: int = DEFAULT_CALIBRATION_EXAMPLES, verbose: bool = False,
                 overwrite: bool = False) -> dict:
    """Export `model` for serving, as `perceiver-tf export` does.

    Args:
        model: a `keras.Model` or the path of its `.keras` file.
        output: saved_model: the model base directory (the export goes to `output/<version>/`);
            tflite: a `.tflite` file, or a directory that receives `model_<quantize>.tflite`.
        format: "saved_model" or "tflite".
        version: the SavedModel version (default: the latest + 1).
        quantize: the TFLite quantisation ("none", "float16", "dynamic", "int8").
        representative_data: int8 calibration examples: a data source (read with the model's own
            preprocessor) or a `.npy` file of model inputs; default the model's training data.
        calibration_examples: how many calibration examples to draw.
        verbose: show the TFLite converter's log lines.
        overwrite: replace an existing SavedModel `version` or `.tflite` file; without it they are refused.

    Returns:
        The summary `perceiver-tf export` prints: format, path, version / bytes, signatures / operators.

    Raises:
        OptionError: options that do not fit each other or the model.
        PerceiverError: an output that cannot be written or a model that cannot be exported (one line).
    """
    from perceiver_tf.output_paths import writable_directory, writable_file
    from perceiver_tf.workflows.model_files import load_trained_model

    check_choice("format", format, FORMATS)
    check_choice("quantize", quantize, QUANTIZATIONS)
    if version is not None:
        non_negative_int.check("version", version)
    positive_int.check("calibration_examples", calibration_examples)
    output = os.fspath(output)
    if format == "saved_model":
        writable_directory(output, option_name("output"))
        taken = Path(output) / str(version) if version is not None else None
    else:
        taken = writable_file(tflite_path(output, quantize), option_name("output"))
    if taken is not None and taken.exists() and not overwrite:
        instead = (f"pass another {option_name('version')} (or none: the next version)" if format == "saved_model"
                   else f"pass another {option_name('output')}")
        raise PerceiverError(f"{taken} exists; {instead}, or {option_name('overwrite')} to replace it.")
    if isinstance(model, (str, os.PathLike)):
        model, _ = load_trained_model(os.fspath(model), require_metadata=False)
    if format == "saved_model":
        return _export_saved_model(model, output, version, overwrite)
    return _export_tflite(model, output, quantize, representative_data, calibration_examples, verbose)


def load_representative_data(source: str, model, count: int):
    """Up to `count` model inputs for int8 calibration: a `.npy` file of them, or any data source
    read with the model's own preprocessing (training split, evaluation transform).

    Raises:
        OptionError: a data source for a model that does not record its preprocessing.
        PerceiverError: a data source that does not load or holds no training examples.
    """
    import numpy as np

    if source.endswith(".npy") and Path(source).is_file():
        return np.load(source)
    import tensorflow as tf

    from perceiver_tf.data import DataOptionError, DataOptions, load_source

    if getattr(model, "preprocessor", None) is None:
        raise OptionError(f"{option_name('representative_data')} {source!r} needs a model that owns its "
                          "preprocessing (trained with `perceiver-tf train`), or pass a .npy file of model inputs.")
    processor = model.preprocessor.processor
    try:
        examples = load_source(source, DataOptions(modality=processor.modality, processor=processor)).train
    except DataOptionError as error:
        raise OptionError(f"{option_name('representative_data')} {source!r}: {error}") from None
    except ValueError as error:
        raise PerceiverError(f"{option_name('representative_data')} {source!r}: {error}") from None
    no_seed = tf.zeros([2], tf.int32)
    prepared = examples.take(count).map(lambda x, _: processor.prepare(x, False, no_seed))
    batch = next(iter(prepared.batch(count)), None)
    if batch is None:
        raise PerceiverError(f"{option_name('representative_data')} {source!r} holds no training examples.")
    return tf.nest.map_structure(np.asarray, batch)


def tflite_path(output: str, quantize: str) -> Path:
    """`output` itself when it ends in .tflite, else `output/model_<quantize>.tflite`."""
    path = Path(output)
    return path if path.suffix == ".tflite" else path / f"model_{quantize}.tflite"


def _export_saved_model(model, output: str, version: int | None, overwrite: bool) -> dict:
    from perceiver_tf.export.saved_model import export_saved_model

    try:
        export = export_saved_model(model, output, version=version, overwrite=overwrite)
    except ValueError as error:
        raise PerceiverError(str(error)) from error
    summary = {"format": "saved_model", "path": str(export.path), "version": export.version,
               "signatures": list(export.signatures), "bytes_input": export.bytes_input}
    if export.note:
        summary["note"] = export.note
    return summary


def _export_tflite(model, output: str, quantize: str, representative_data: str | None, calibration_examples: int,
                   verbose: bool) -> dict:
    from perceiver_tf.export.tflite import export_tflite, tflite_operators

    representative = None
    if quantize == "int8":
        source = representative_data or getattr(model, "metadata", {}).get("data")
        if source is None or source == "arrays":
            raise OptionError(f"{option('quantize', 'int8', repr('int8'))} needs "
                              f"{option_name('representative_data')} (the model metadata names no data it can "
                              "read again)")
        representative = load_representative_data(source, model, calibration_examples)
    path = tflite_path(output, quantize)
    try:
        content = export_tflite(model, path, quantize, representative, calibration_examples, verbose)
    except ValueError as error:
        raise PerceiverError(str(error)) from error
    return {"format": "tflite", "path": str(path), "quantize": quantize, "bytes": len(content),
            "operators": sorted(set(tflite_operators(content)))}
