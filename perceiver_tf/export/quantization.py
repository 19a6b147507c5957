"""The TFLite quantisation choices (no TensorFlow import: the CLI's parser reads them)."""

#: `perceiver-tf export --quantize` / `convert_to_tflite(quantize=...)`.
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
#: Calibration examples drawn from the representative data for int8 (the TFLite guide's ~100-500).
DEFAULT_CALIBRATION_EXAMPLES = 200
