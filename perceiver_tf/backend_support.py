"""Which Keras backend runs perceiver_tf, and the choices that depend on it.

The models and layers are written once against `keras.ops` and run on Keras 3's TensorFlow or
JAX backend (`KERAS_BACKEND=jax`). TensorFlow is needed only where tf.data, tf.distribute or the
SavedModel/TFLite export are; everything here is cheap to import and never imports TensorFlow
under another backend.

- `backend()`: "tensorflow", "jax", ...
- `default_jit_compile(model)`: XLA-compiled train/eval steps by default under JAX (an un-jitted
  JAX step is several times slower) and under TensorFlow for fixed input shapes on one device
  (measured faster on CPU, except for chunked attention's memory; see its docstring).
- `accelerator()`: "gpu", "tpu" or "cpu", as the running backend sees the devices; it picks the
  mixed-precision dtype (`mixed_precision_policy`).
- `missing_package_hint(error)` / `backend_import_error(error)`: the one-line install hint for a
  missing backend package.
"""

from __future__ import annotations

import os

_JAX = ("KERAS_BACKEND=jax needs JAX", "pip install 'perceiver_tf[jax]'")
#: `{missing top-level module: (what needs it, how to install it)}` for the packages perceiver_tf may need.
MISSING_PACKAGES = {
    "tensorflow": ("tf.data pipelines, tf.distribute and the SavedModel/TFLite export need TensorFlow",
                   "pip install 'perceiver_tf[cpu]' (or [gpu]; TensorFlow 2.16-2.21), or pip install -r requirements.txt"),
    "jax": _JAX,
    "jaxlib": _JAX,
}


def missing_package_hint(error: BaseException) -> str | None:
    """`"<what needs it>: <install command>"` when `error` is a missing backend package, else `None`."""
    root = (getattr(error, "name", None) or "").split(".")[0]
    if not isinstance(error, ImportError) or root not in MISSING_PACKAGES:
        return None
    needs, install = MISSING_PACKAGES[root]
    return f"{needs} (no module named {root!r}): {install}"


def backend_import_error(error: ImportError) -> ImportError:
    """The ImportError to raise when Keras could not import its backend's package: one line naming
    the backend, what needs it and the install command (`error` itself when it is about another package)."""
    hint = missing_package_hint(error)
    if hint is None:
        return error
    chosen = os.environ.get("KERAS_BACKEND", "tensorflow (Keras' default)")
    return ImportError(f"Keras' backend is {chosen}, but {hint}; or choose another backend with KERAS_BACKEND "
                       "(tensorflow or jax).")


def backend() -> str:
    """The running Keras backend: "tensorflow", "jax", "torch" or "numpy"."""
    import keras

    return keras.backend.backend()


#: `PERCEIVER_TF_JIT_COMPILE=0` or `=1` decides what `jit_compile="auto"` means, for every model
#: (e.g. `0` for a test suite that compiles hundreds of tiny models once each, where XLA's
#: compile time would dominate).
JIT_COMPILE_ENV = "PERCEIVER_TF_JIT_COMPILE"


def has_fixed_input_shapes(model) -> bool:
    """True when every dimension of every input of `model` but the batch is known (`None`: True)."""
    inputs = getattr(model, "inputs", None) or []
    return all(None not in tuple(tensor.shape[1:]) for tensor in inputs)


def uses_chunked_attention(model) -> bool:
    """True when an attention layer of `model` processes its keys in chunks (`attention_chunk_size`:
    the bounded-memory cross-attention over very large inputs)."""
    if model is None or not hasattr(model, "_flatten_layers"):
        return False
    return any(getattr(layer, "attention_chunk_size", None) for layer in model._flatten_layers())


def default_jit_compile(model=None) -> bool:
    """What `jit_compile="auto"` means in perceiver_tf for `model` (`None`: a model with fixed input shapes).

    - JAX: True (an un-jitted JAX step is several times slower).
    - TensorFlow: True for a model whose inputs have fixed shapes (but the batch), outside any
      tf.distribute strategy (Keras' own "auto" rule on a GPU or TPU), on every device kind.
      Measured on a 2-core CPU (benchmarks/RESULTS.md): XLA's steady training step is 1.15-2.6x the
      float32 graph's for `tiny` and `small` (`benchmarks.bench_defaults`), its first step 3.5-10.7 s;
      since every batch of a compiled run has one shape (`workflows.train.batch_multiple`) XLA also
      wins whole runs (the README demo's time to 0.94 validation accuracy,
      `benchmarks.bench_time_to_accuracy`, and the task suite, `benchmarks.bench_tasks`), and a
      one-shot `perceiver-tf predict` was no slower. False where an input dimension varies (XLA
      compiles once per new shape: point clouds of any size), under strategies (not measured), and on
      a CPU for a model with chunked attention (`uses_chunked_attention`): there XLA raised the peak
      memory of a training step at a million inputs with a learned position table from 3.9 to 4.4 GB
      (`benchmarks.bench_training_memory`), past the 4 GiB that chunking promises.
    - torch: False.

    `PERCEIVER_TF_JIT_COMPILE=0` / `=1` overrides the choice.
    """
    forced = os.environ.get(JIT_COMPILE_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if backend() == "jax":
        return True
    if backend() != "tensorflow" or not has_fixed_input_shapes(model):
        return False
    if accelerator() == "cpu" and uses_chunked_attention(model):
        return False
    import tensorflow as tf

    return not tf.distribute.has_strategy()


def resolve_jit_compile(jit_compile: bool | str | None, model=None) -> bool:
    """`True`/`False` as given; `"auto"` or `None`: `default_jit_compile(model)`.

    Raises:
        ValueError: any other value.
    """
    if jit_compile in ("auto", None):
        return default_jit_compile(model)
    if not isinstance(jit_compile, bool):
        raise ValueError(f"`jit_compile` must be True, False or 'auto'. Received: jit_compile={jit_compile!r}")
    return jit_compile


def accelerator() -> str:
    """"gpu", "tpu" or "cpu": the kind of the first device the running backend computes on."""
    if backend() == "jax":
        import jax

        platform = jax.devices()[0].platform
        return "gpu" if platform in ("gpu", "cuda", "rocm") else platform
    if backend() == "tensorflow":
        import tensorflow as tf

        if tf.config.list_logical_devices("TPU"):
            return "tpu"
        return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def mixed_precision_policy() -> str:
    """The mixed-precision policy for this machine: "mixed_float16" on GPUs, "mixed_bfloat16" on TPUs and CPUs."""
    return "mixed_float16" if accelerator() == "gpu" else "mixed_bfloat16"
