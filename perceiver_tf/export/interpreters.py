"""Running `.tflite` files with the interpreter users deploy: LiteRT where it is installed.

LiteRT (`ai-edge-litert`, `ai_edge_litert.interpreter.Interpreter`) is the TFLite runtime Google
ships apart from TensorFlow; TensorFlow 2.21's `tf.lite.Interpreter` warns that it is deprecated in
its favour. Both take the same arguments. `tflite_interpreter` returns LiteRT's and falls back to
TensorFlow's (its deprecation warning silenced) where `ai-edge-litert` is not installed.

The two run different XNNPACK builds by default; TensorFlow 2.21's mishandles int8 batch matmuls,
which is one reason int8 exports keep the attention in float (`tflite.INT8_FLOAT_OPS`).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

#: The signature every perceiver_tf `.tflite` file has (`tflite.convert_to_tflite`).
SIGNATURE = "serving_default"


def tflite_runtime() -> str:
    """Which interpreter `tflite_interpreter` uses here, with its version, e.g. "ai_edge_litert 2.3.0"."""
    try:
        from importlib.metadata import version

        import ai_edge_litert.interpreter  # noqa: F401 - the import is the check

        return f"ai_edge_litert {version('ai-edge-litert')}"
    except ImportError:
        import tensorflow as tf

        return f"tf.lite (TensorFlow {tf.__version__})"


def tflite_interpreter(model_path: str | os.PathLike | None = None, model_content: bytes | None = None,
                       num_threads: int | None = None):
    """An allocated interpreter for a `.tflite` file (`model_path`) or its bytes (`model_content`):
    LiteRT's where `ai-edge-litert` is installed, else `tf.lite.Interpreter`.

    Raises:
        ValueError: neither or both of `model_path` / `model_content`.
    """
    if (model_path is None) == (model_content is None):
        raise ValueError("Give exactly one of `model_path` and `model_content`.")
    path = None if model_path is None else os.fspath(model_path)
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "tf.lite.Interpreter is deprecated ... use ai_edge_litert"
            interpreter = tf.lite.Interpreter(model_path=path, model_content=model_content, num_threads=num_threads)
    else:
        interpreter = Interpreter(model_path=path, model_content=model_content, num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def run_tflite(model: bytes | str | os.PathLike, num_threads: int | None = None, **inputs) -> dict[str, np.ndarray]:
    """Run a perceiver_tf `.tflite` file's `serving_default` signature on named inputs.

    Args:
        model: the file's path or its bytes.
        num_threads: interpreter threads (None: the runtime's default).
        **inputs: the named inputs, e.g. `inputs=x` with float32 `x` `(B, *input_shape)`; the
            interpreter resizes its batch to `B`.

    Returns:
        `{output name: array}`, e.g. `logits` `(B, num_classes)`, `probabilities`, `class_ids`, `valid`.
    """
    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": model}
    runner = tflite_interpreter(**source, num_threads=num_threads).get_signature_runner(SIGNATURE)
    return runner(**{name: np.asarray(value) for name, value in inputs.items()})
