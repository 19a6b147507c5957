"""`perceiver-tf export`: a trained `.keras` model -> TF Serving SavedModel or TFLite.

    perceiver-tf export --model saved_models/digits/model.keras --format saved_model --output saved_models/digits_serving
    perceiver-tf export --model saved_models/digits/model.keras --format tflite --quantize int8 --output exports/
"""

from __future__ import annotations

import json
from pathlib import Path

from perceiver_tf.errors import OptionError, PerceiverError
from perceiver_tf.export.quantization import DEFAULT_CALIBRATION_EXAMPLES, QUANTIZATIONS
from perceiver_tf.workflows.values import non_negative_int, positive_int

FORMATS = ("saved_model", "tflite")


def add_export_parser(subparsers) -> None:
    """Register the `export` subcommand on an argparse `subparsers` object."""
    parser = subparsers.add_parser(
        "export",
        help="Export a trained model as a TF Serving SavedModel or a TFLite flatbuffer.",
    )
    parser.add_argument("--model", required=True, help="The trained model, e.g. saved_models/digits/model.keras.")
    parser.add_argument("--format", default="saved_model", choices=FORMATS, help="What to write.")
    parser.add_argument(
        "--output",
        required=True,
        help="saved_model: the model base directory; the export goes to OUTPUT/<version>/. "
        "tflite: a .tflite file, or a directory that receives model_<quantize>.tflite.",
    )
    parser.add_argument("--version", type=non_negative_int, default=None,
                        help="saved_model version. Default: the latest version + 1.")
    parser.add_argument("--quantize", default="none", choices=QUANTIZATIONS, help="tflite quantisation.")
    parser.add_argument(
        "--representative-data",
        default=None,
        help="int8 calibration examples: any --data source of `perceiver-tf train` (read with the model's own "
        "preprocessing), or a .npy file of model inputs. Default: the model's training data from its metadata.",
    )
    parser.add_argument("--calibration-examples", type=positive_int, default=DEFAULT_CALIBRATION_EXAMPLES,
                        help="int8 calibration examples drawn from --representative-data.")
    parser.add_argument("--verbose", action="store_true", help="Show the TFLite converter's log lines.")
    parser.set_defaults(handler=run_export)


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
        raise OptionError(f"--representative-data {source!r} needs a model that owns its preprocessing "
                          "(trained with `perceiver-tf train`), or pass a .npy file of model inputs.")
    processor = model.preprocessor.processor
    try:
        examples = load_source(source, DataOptions(modality=processor.modality, processor=processor)).train
    except DataOptionError as error:
        raise OptionError(f"--representative-data {source!r}: {error}") from None
    except ValueError as error:
        raise PerceiverError(f"--representative-data {source!r}: {error}") from None
    no_seed = tf.zeros([2], tf.int32)
    prepared = examples.take(count).map(lambda x, _: processor.prepare(x, False, no_seed))
    batch = next(iter(prepared.batch(count)), None)
    if batch is None:
        raise PerceiverError(f"--representative-data {source!r} holds no training examples.")
    return tf.nest.map_structure(np.asarray, batch)


def tflite_path(output: str, quantize: str) -> Path:
    """`output` itself when it ends in .tflite, else `output/model_<quantize>.tflite`."""
    path = Path(output)
    return path if path.suffix == ".tflite" else path / f"model_{quantize}.tflite"


def run_export(args) -> int:
    """Handler of `perceiver-tf export`; prints a JSON summary of what was written.

    The output is checked before the model is loaded; failures are `PerceiverError`s (exit 1) or,
    for flags that do not fit the model, `OptionError`s (exit 2), each one `error:` line.
    """
    from perceiver_tf.output_paths import writable_directory, writable_file
    from perceiver_tf.workflows.model_files import load_trained_model

    if args.format == "saved_model":
        writable_directory(args.output, "--output")
    else:
        writable_file(tflite_path(args.output, args.quantize), "--output")
    model, _ = load_trained_model(args.model, require_metadata=False)
    if args.format == "saved_model":
        summary = _export_saved_model(model, args)
    else:
        summary = _export_tflite(model, args)
    print(json.dumps(summary, indent=2))
    return 0


def _export_saved_model(model, args) -> dict:
    from perceiver_tf.export.saved_model import export_saved_model

    try:
        export = export_saved_model(model, args.output, version=args.version)
    except ValueError as error:
        raise PerceiverError(str(error)) from error
    summary = {"format": "saved_model", "path": str(export.path), "version": export.version,
               "signatures": list(export.signatures), "bytes_input": export.bytes_input}
    if export.note:
        summary["note"] = export.note
    return summary


def _export_tflite(model, args) -> dict:
    from perceiver_tf.export.tflite import export_tflite, tflite_operators

    representative = None
    if args.quantize == "int8":
        source = args.representative_data or getattr(model, "metadata", {}).get("data")
        if source is None:
            raise OptionError("--quantize int8 needs --representative-data (the model metadata names no data)")
        representative = load_representative_data(source, model, args.calibration_examples)
    path = tflite_path(args.output, args.quantize)
    try:
        content = export_tflite(model, path, args.quantize, representative, args.calibration_examples,
                                args.verbose)
    except ValueError as error:
        raise PerceiverError(str(error)) from error
    return {"format": "tflite", "path": str(path), "quantize": args.quantize, "bytes": len(content),
            "operators": sorted(set(tflite_operators(content)))}
