"""Deployment: TF Serving SavedModels, TFLite flatbuffers, serving requests (`perceiver-tf export`)."""

from perceiver_tf.export.fresh_process import (
    run_exports_in_fresh_process,
    run_signatures_in_fresh_process,
)
from perceiver_tf.export.saved_model import (
    OUTPUT_NAMES,
    SERVING_BYTES,
    SERVING_DEFAULT,
    SavedModelExport,
    export_saved_model,
    model_outputs,
    next_version,
    write_saved_model,
)
from perceiver_tf.export.serving_request import predict_request, rest_body, rest_url
from perceiver_tf.export.tflite import (
    QUANTIZATIONS,
    convert_to_tflite,
    export_tflite,
    non_builtin_operators,
    tflite_operators,
)

__all__ = [
    "OUTPUT_NAMES",
    "QUANTIZATIONS",
    "SERVING_BYTES",
    "SERVING_DEFAULT",
    "SavedModelExport",
    "convert_to_tflite",
    "export_saved_model",
    "export_tflite",
    "model_outputs",
    "next_version",
    "non_builtin_operators",
    "predict_request",
    "rest_body",
    "rest_url",
    "run_exports_in_fresh_process",
    "run_signatures_in_fresh_process",
    "tflite_operators",
    "write_saved_model",
]
