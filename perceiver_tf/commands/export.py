"""`perceiver-tf export`: a trained `.keras` model -> TF Serving SavedModel or TFLite.

    perceiver-tf export --model saved_models/digits/model.keras --format saved_model --output saved_models/digits_serving
    perceiver-tf export --model saved_models/digits/model.keras --format tflite --quantize int8 --output exports/
"""

from __future__ import annotations

import json

from perceiver_tf.export.quantization import DEFAULT_CALIBRATION_EXAMPLES, QUANTIZATIONS
from perceiver_tf.workflows.export import FORMATS
from perceiver_tf.workflows.values import non_negative_int, positive_int


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
    parser.add_argument("--overwrite", action="store_true",
                        help="Replace an existing --version or .tflite file (refused without it).")
    parser.add_argument("--verbose", action="store_true", help="Show the TFLite converter's log lines.")
    parser.set_defaults(handler=run_export)


def run_export(args) -> int:
    """Handler of `perceiver-tf export`: prints the JSON summary of what was written."""
    from perceiver_tf.workflows.export import export_model

    summary = export_model(args.model, args.output, args.format, version=args.version, quantize=args.quantize,
                           representative_data=args.representative_data,
                           calibration_examples=args.calibration_examples, verbose=args.verbose,
                           overwrite=args.overwrite)
    print(summary_json(summary))
    return 0


def summary_json(summary: dict) -> str:
    """`summary` as JSON with one line per key (a list, such as the operators, stays on its line)."""
    return "{\n" + ",\n".join(f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in summary.items()) + "\n}"
