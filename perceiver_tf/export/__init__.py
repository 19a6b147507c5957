"""Deployment: TF Serving SavedModels, TFLite flatbuffers, serving requests (`perceiver-tf export`).

The names below load their module (and TensorFlow) when first used, so light modules of this
package (`quantization`) can be read without TensorFlow.
"""

from perceiver_tf.lazy_exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "quantization": ("QUANTIZATIONS",),
    "saved_model": ("OUTPUT_NAMES", "SERVING_BYTES", "SERVING_DEFAULT", "SavedModelExport", "export_saved_model",
                    "model_outputs", "next_version", "write_saved_model"),
    "serving_request": ("predict_request", "rest_body", "rest_url"),
    "tflite": ("INT8_FLOAT_OPS", "convert_to_tflite", "export_tflite", "non_builtin_operators", "tflite_operators"),
    "interpreters": ("RUNTIMES", "run_tflite", "tflite_interpreter", "tflite_runtime"),
})
