"""Running `.tflite` files with the interpreter users deploy: LiteRT where it is installed.

LiteRT (`ai-edge-litert`, `ai_edge_litert.interpreter.Interpreter`) is the TFLite runtime Google
ships apart from TensorFlow; TensorFlow 2.21's `tf.lite.Interpreter` warns that it is deprecated in
its favour. Both take the same arguments. `tflite_interpreter` returns LiteRT's and falls back to
TensorFlow's (its deprecation warning silenced) where `ai-edge-litert` is not installed; it also
gives TensorFlow's or the reference kernels on request, to compare the runtimes.

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


#: `tflite_interpreter(runtime=...)`: "auto" (LiteRT where installed), "litert", or "tf.lite"
#: (TensorFlow's own, deprecated on 2.21, whose default XNNPACK delegate differs from LiteRT's).
RUNTIMES = ("auto", "litert", "tf.lite")


def tflite_interpreter(model_path: str | os.PathLike | None = None, model_content: bytes | None = None,
                       num_threads: int | None = None, runtime: str = "auto", reference_kernels: bool = False):
    """An allocated interpreter for a `.tflite` file (`model_path`) or its bytes (`model_content`):
    LiteRT's where `ai-edge-litert` is installed, else `tf.lite.Interpreter`.

    Args:
        runtime: one of `RUNTIMES`; "tf.lite" has its deprecation warning silenced.
        reference_kernels: run TFLite's reference kernels (no delegate), the arithmetic the others
            are compared with.

    Raises:
        ValueError: neither or both of `model_path` / `model_content`, or an unknown `runtime`.
    """
    if (model_path is None) == (model_content is None):
        raise ValueError("Give exactly one of `model_path` and `model_content`.")
    if runtime not in RUNTIMES:
        raise ValueError(f"Unknown runtime {runtime!r}. Valid: {', '.join(RUNTIMES)}")
    path = None if model_path is None else os.fspath(model_path)
    interpreter_class, resolvers = _interpreter_class(runtime)
    options = {"experimental_op_resolver_type": resolvers.BUILTIN_REF} if reference_kernels else {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        interpreter = interpreter_class(model_path=path, model_content=model_content, num_threads=num_threads,
                                        **options)
    interpreter.allocate_tensors()
    return interpreter


def _interpreter_class(runtime: str):
    """`(Interpreter class, its OpResolverType enum)` for a `runtime` of `RUNTIMES`."""
    if runtime != "tf.lite":
        try:
            from ai_edge_litert import interpreter as litert

            return litert.Interpreter, litert.OpResolverType
        except ImportError:
            if runtime == "litert":
                raise
    import tensorflow as tf

    return tf.lite.Interpreter, tf.lite.experimental.OpResolverType


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
