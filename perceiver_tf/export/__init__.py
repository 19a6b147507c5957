"""Deployment: TF Serving SavedModels, TFLite flatbuffers, serving requests (`perceiver-tf export`).

The names below load their module (and TensorFlow) when first used, so light modules of this
package (`quantization`) can be read without TensorFlow.
"""

import importlib

#: `{module of perceiver_tf.export: the public names it defines}`.
_MODULES = {
    "fresh_process": ("run_exports_in_fresh_process", "run_signatures_in_fresh_process"),
    "quantization": ("QUANTIZATIONS",),
    "saved_model": ("OUTPUT_NAMES", "SERVING_BYTES", "SERVING_DEFAULT", "SavedModelExport", "export_saved_model",
                    "model_outputs", "next_version", "write_saved_model"),
    "serving_request": ("predict_request", "rest_body", "rest_url"),
    "tflite": ("convert_to_tflite", "export_tflite", "non_builtin_operators", "tflite_operators"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    """A public name, imported from its module on first use."""
    if name not in _HOME:
        raise AttributeError(f"module 'perceiver_tf.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"perceiver_tf.export.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
