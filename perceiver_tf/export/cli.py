"""`perceiver-tf export`: a trained `.keras` model -> TF Serving SavedModel or TFLite.

    perceiver-tf export --model saved_models/digits/model.keras --format saved_model --output saved_models/digits_serving
    perceiver-tf export --model saved_models/digits/model.keras --format tflite --quantize int8 --output exports/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

FORMATS = ("saved_model", "tflite")


def add_export_parser(subparsers) -> None:
    """Register the `export` subcommand on an argparse `subparsers` object."""
    from perceiver_tf.export.tflite import DEFAULT_CALIBRATION_EXAMPLES, QUANTIZATIONS

    parser = subparsers.add_parser(
        "export",
        help="Export a trained model as a TF Serving SavedModel or a TFLite flatbuffer.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="The trained model, e.g. saved_models/digits/model.keras.")
    parser.add_argument("--format", default="saved_model", choices=FORMATS)
    parser.add_argument(
        "--output",
        required=True,
        help="saved_model: the model base directory; the export goes to OUTPUT/<version>/. "
        "tflite: a .tflite file, or a directory that receives model_<quantize>.tflite.",
    )
    parser.add_argument("--version", type=int, default=None, help="saved_model version; None: the latest version + 1.")
    parser.add_argument("--quantize", default="none", choices=QUANTIZATIONS, help="tflite quantisation.")
    parser.add_argument(
        "--representative-data",
        default=None,
        help="int8 calibration examples: any --data source of `perceiver-tf train` (read with the model's own "
        "preprocessing), or a .npy file of model inputs. Default: the model's training data from its metadata.",
    )
    parser.add_argument("--calibration-examples", type=int, default=DEFAULT_CALIBRATION_EXAMPLES)
    parser.set_defaults(handler=run_export)


def load_representative_data(source: str, model, count: int):
    """Up to `count` model inputs for int8 calibration: a `.npy` file of them, or any data source
    read with the model's own preprocessing (training split, evaluation transform)."""
    import numpy as np

    if source.endswith(".npy") and Path(source).is_file():
        return np.load(source)
    import tensorflow as tf

    from perceiver_tf.commands.model_files import processor_for
    from perceiver_tf.data import DataOptions, load_source

    metadata = getattr(model, "metadata", {})
    if "preprocessing" not in metadata:
        raise SystemExit(f"error: --representative-data {source!r} needs a model that records its preprocessing "
                         "(trained with `perceiver-tf train`), or pass a .npy file of model inputs.")
    processor = processor_for(metadata)
    try:
        examples = load_source(source, DataOptions(modality=processor.modality, processor=processor)).train
    except ValueError as error:
        raise SystemExit(f"error: --representative-data: {error}") from None
    no_seed = tf.zeros([2], tf.int32)
    prepared = examples.take(count).map(lambda x, _: processor.prepare(x, False, no_seed))
    batch = next(iter(prepared.batch(count)))
    return tf.nest.map_structure(np.asarray, batch)


def tflite_path(output: str, quantize: str) -> Path:
    """`output` itself when it ends in .tflite, else `output/model_<quantize>.tflite`."""
    path = Path(output)
    return path if path.suffix == ".tflite" else path / f"model_{quantize}.tflite"


def run_export(args) -> int:
    """Handler of `perceiver-tf export`; prints a JSON summary of what was written."""
    from perceiver_tf.commands.model_files import load_trained_model

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
        raise SystemExit(f"error: {error}") from error
    summary = {"format": "saved_model", "path": str(export.path), "version": export.version,
               "signatures": list(export.signatures), "bytes_input": export.bytes_input}
    if export.note:
        summary["note"] = export.note
    return summary


def _export_tflite(model, args) -> dict:
    from perceiver_tf.export.tflite import convert_to_tflite, non_builtin_operators, tflite_operators

    representative = None
    if args.quantize == "int8":
        source = args.representative_data or model.metadata.get("data")
        if source is None:
            raise SystemExit("error: --quantize int8 needs --representative-data (the model metadata names no data)")
        representative = load_representative_data(source, model, args.calibration_examples)
    try:
        content = convert_to_tflite(model, args.quantize, representative, args.calibration_examples)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from error
    custom = non_builtin_operators(content)
    if custom:
        raise SystemExit(f"error: the TFLite model uses non-builtin ops {custom}")
    path = tflite_path(args.output, args.quantize)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return {"format": "tflite", "path": str(path), "quantize": args.quantize, "bytes": len(content),
            "operators": sorted(set(tflite_operators(content)))}
