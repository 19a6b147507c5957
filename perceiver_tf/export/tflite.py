"""Convert a Perceiver model to TensorFlow Lite, builtin ops only.

The converter starts from the float `serving_default` signature of the SavedModel export, so
the `.tflite` file has the same named inputs (`inputs`, or one per modality, plus masks) and
outputs (`probabilities`, `logits`, `class_ids`; Perceiver IO: one per task) as TF Serving, and
the same input guard: `valid` bool `(B,)` is False for an example with a NaN / Inf value (or, for
an image model, a pixel far outside its range), whose outputs are then zeros (`class_ids` -1).
Every variant is restricted to TFLite builtin ops (no Flex / Select TF ops), which the converter
enforces and `tflite_operators` re-checks on the flatbuffer.

`export_tflite` writes the file atomically (`perceiver_tf.export.atomic.write_bytes_atomic`): a
failed conversion or a killed process leaves the previous file, if any, as it was.

Quantisation (`quantize=`):
- "none": float32 weights and activations.
- "float16": float16 weights, float32 compute.
- "dynamic": int8 weights, activations quantised on the fly (dynamic range).
- "int8": int8 weights and activations calibrated on a representative dataset (training
  examples), float32 input/output; ops without an int8 kernel stay float (builtins), and so do the
  ops of `INT8_FLOAT_OPS` (selective quantisation, `tf.lite.experimental.QuantizationDebugger`).

Why `INT8_FLOAT_OPS` holds the attention's SOFTMAX and BATCH_MATMUL (both weightless, so keeping
them float costs nothing in file size):
- SOFTMAX: attention weights over M keys are about 1/M each; int8's output grid (steps of 1/256)
  cannot hold them once M passes a few hundred, and coarsens them well before.
- BATCH_MATMUL (queries x keys, weights x values, products of two activations): quantised, the int8
  batch matmul of TensorFlow 2.21's `tf.lite.Interpreter` (its default XNNPACK delegate) made the
  demo model agree with Keras on 0.772 of the held-out digits, against 0.994 under LiteRT and 0.997
  under the reference kernels. With both ops float: 0.994 under all three; the `tiny` test model of
  tests/test_export.py: 0.894 / 0.972 / 0.978 -> 0.983 under all three (`python -m
  benchmarks.export_benchmark`; keeping LayerNorm, GELU or the element-wise ops float as well
  changed nothing or lowered it).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from perceiver_tf.export.atomic import write_bytes_atomic
from perceiver_tf.export.quantization import DEFAULT_CALIBRATION_EXAMPLES, QUANTIZATIONS
from perceiver_tf.export.saved_model import (
    SERVING_DEFAULT,
    input_specs,
    write_saved_model,
)
from perceiver_tf.native_log import native_stderr_captured

#: TFLite operators an int8 export keeps in float32 (see the module docstring for the measurements).
INT8_FLOAT_OPS = ("BATCH_MATMUL", "SOFTMAX")


def convert_to_tflite(
    model: keras.Model,
    quantize: str = "none",
    representative_data: np.ndarray | None = None,
    calibration_examples: int = DEFAULT_CALIBRATION_EXAMPLES,
    verbose: bool = False,
    int8_float_ops: Sequence[str] = INT8_FLOAT_OPS,
) -> bytes:
    """Convert `model` to a TFLite flatbuffer that uses builtin ops only.

    Args:
        model: a `PerceiverBackbone` or a task on one.
        quantize: one of `QUANTIZATIONS`.
        representative_data: float examples `(n, *input_shape)` from the training data (a dict
            of arrays for a model with several named inputs); required for "int8", ignored otherwise.
        calibration_examples: how many of them calibrate the int8 ranges.
        verbose: show the converter's own log lines (shown anyway when the conversion fails).
        int8_float_ops: with "int8", the TFLite operators (e.g. "BATCH_MATMUL") kept in float32;
            `()` quantises every operator that has an int8 kernel.

    Returns:
        The `.tflite` file contents. Its signature `serving_default` takes the model's named
        inputs `(B, *input_shape)` (batch 1 by default, resizable) and returns the named outputs.
    """
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"Unknown quantize {quantize!r}. Valid: {', '.join(QUANTIZATIONS)}")
    if quantize == "int8":
        representative_data = _check_representative(model, representative_data)
    with tempfile.TemporaryDirectory() as folder:
        saved_model_dir = os.path.join(folder, "saved_model")
        write_saved_model(model, saved_model_dir, include_bytes=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[SERVING_DEFAULT])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantize == "int8":
            calibration = _representative_dataset(representative_data, calibration_examples)
            converter.representative_dataset = calibration
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        with native_stderr_captured(show=verbose), warnings.catch_warnings():
            # int8 calibration runs TensorFlow's own (deprecated on 2.21) tf.lite.Interpreter: not the user's concern.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            if quantize != "int8" or not int8_float_ops:
                return converter.convert()
            keep_float = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(int8_float_ops))
            selective = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=calibration,
                                                                  debug_options=keep_float)
            return selective.get_nondebug_quantized_model()


def export_tflite(
    model: keras.Model,
    path: str | os.PathLike,
    quantize: str = "none",
    representative_data: np.ndarray | None = None,
    calibration_examples: int = DEFAULT_CALIBRATION_EXAMPLES,
    verbose: bool = False,
    int8_float_ops: Sequence[str] = INT8_FLOAT_OPS,
) -> bytes:
    """`convert_to_tflite`, then write the flatbuffer to `path` atomically (see the module docstring).

    Returns:
        The `.tflite` file contents.

    Raises:
        ValueError: bad arguments (see `convert_to_tflite`) or a model that needs non-builtin ops;
            nothing is written then.
    """
    content = convert_to_tflite(model, quantize, representative_data, calibration_examples, verbose, int8_float_ops)
    custom = non_builtin_operators(content)
    if custom:
        raise ValueError(f"The TFLite model uses non-builtin ops {custom}; nothing was written.")
    write_bytes_atomic(path, content)
    return content


def _check_representative(model: keras.Model, data) -> dict[str, np.ndarray]:
    """`{input name: (n, ...)}` calibration arrays matching the model's inputs."""
    if data is None:
        raise ValueError("quantize='int8' needs `representative_data` (training examples) to calibrate.")
    specs = input_specs(model)
    arrays = data if isinstance(data, dict) else {"inputs": data}
    if sorted(arrays) != sorted(specs):
        raise ValueError(f"`representative_data` needs the inputs {sorted(specs)}. Received: {sorted(arrays)}")
    checked = {}
    for name, spec in specs.items():
        array = np.asarray(arrays[name], dtype=spec.dtype.as_numpy_dtype)
        expected = tuple(spec.shape[1:])
        if array.ndim != len(expected) + 1 or any(w is not None and w != g for w, g in zip(expected, array.shape[1:])):
            shown = ", ".join("None" if d is None else str(d) for d in expected)
            raise ValueError(f"`representative_data` must have shape (n, {shown}). Received: shape {array.shape}")
        if len(array) == 0:
            raise ValueError("`representative_data` is empty.")
        checked[name] = array
    return checked


def _representative_dataset(data: dict[str, np.ndarray], count: int):
    def generate() -> Iterable[dict[str, np.ndarray]]:
        for i in range(min(count, len(next(iter(data.values()))))):
            yield {name: array[i : i + 1] for name, array in data.items()}

    return generate


def tflite_operators(content: bytes) -> list[str]:
    """The operator names of a `.tflite` flatbuffer, one per op code, e.g. "FULLY_CONNECTED".

    Custom ops (Flex/Select TF ops and others) are reported as "CUSTOM:<code>", e.g.
    "CUSTOM:FlexErf".
    """
    from tensorflow.lite.python import schema_py_generated as schema

    builtin_names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    parsed = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    names = []
    for code in parsed.operatorCodes:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            names.append(f"CUSTOM:{custom}")
        else:
            names.append(builtin_names[builtin])
    return names


def non_builtin_operators(content: bytes) -> list[str]:
    """The custom (including Flex) operators of a `.tflite` flatbuffer; empty when all are builtin."""
    return [name for name in tflite_operators(content) if name.startswith("CUSTOM:")]
