"""The checks every layer and every task model goes through (KerasHub's `TestCase`, as plain functions).

- `run_layer_test`: output shape = `compute_output_shape` = the symbolic call's (attention scores
  included), config round trip and Keras serialisation give identical outputs.
- `run_task_test`: config round trip, `.keras` save/load equality, symbolic outputs and attention
  scores, `predict` on a tf.data dataset, mixed float16 / bfloat16 close to float32 (byte arrays
  too: positions come from float32 coordinates).
- `run_export_test`: SavedModel `serving_default` in a fresh process without perceiver_tf, and
  TFLite fp32, both equal to Keras.
"""

import inspect

import keras
import numpy as np
import tensorflow as tf

from perceiver_tf.export import (
    convert_to_tflite,
    model_outputs,
    tflite_interpreter,
    write_saved_model,
)
from perceiver_tf.testing import run_exports_in_fresh_process
from perceiver_tf.visualize import cross_attention_maps

#: (rtol, atol) of mixed-precision outputs vs float32, and of byte arrays (position features). bfloat16's
#: atol is a fraction of the largest float32 output: its 8-bit mantissa in the residual stream moved an
#: untrained learned-position classifier's logits by up to 0.058 (TensorFlow) and 0.109 (JAX 0.10) of
#: their scale over 8 random initialisations (the plain image classifier: 0.018), while its attention maps
#: agreed to 0.003; a wrong cast or an overflow moves them by the whole scale.
MIXED_OUTPUT_TOLERANCE = {"mixed_float16": (0.05, 0.05), "mixed_bfloat16": (0.05, 0.15)}
#: Policies whose atol above is relative to the largest absolute float32 output.
SCALED_ATOL = {"mixed_bfloat16"}
MIXED_BYTE_ARRAY_TOLERANCE = {"mixed_float16": (2e-3, 2e-3), "mixed_bfloat16": (1e-2, 1e-2)}


def _numpy(structure):
    return tf.nest.map_structure(lambda t: np.asarray(t, dtype="float32"), structure)


def assert_all_close(actual, expected, atol=0.0, rtol=0.0):
    actual, expected = _numpy(actual), _numpy(expected)
    tf.nest.assert_same_structure(actual, expected)
    for a, e in zip(tf.nest.flatten(actual), tf.nest.flatten(expected)):
        np.testing.assert_allclose(a, e, atol=atol, rtol=rtol)


def _symbolic(array):
    return keras.Input(batch_shape=array.shape, dtype=str(array.dtype))


def run_layer_test(layer, inputs: list[np.ndarray]) -> None:
    """Shapes (eager, `compute_output_shape`, symbolic, with attention scores) and serialisation of one layer."""
    expected = np.asarray(layer(*inputs))
    assert tuple(layer.compute_output_shape(*[x.shape for x in inputs])) == expected.shape
    assert tuple(layer(*[_symbolic(x) for x in inputs]).shape) == expected.shape
    if "return_attention_scores" in inspect.signature(layer.call).parameters:
        eager_output, eager_scores = layer(*inputs, return_attention_scores=True)
        symbolic_output, symbolic_scores = layer(*[_symbolic(x) for x in inputs], return_attention_scores=True)
        assert tuple(symbolic_output.shape) == tuple(eager_output.shape)
        shapes = lambda s: [tuple(t.shape) for t in (s if isinstance(s, list) else [s])]  # noqa: E731
        assert shapes(symbolic_scores) == shapes(eager_scores)
    for clone in (
        type(layer).from_config(layer.get_config()),
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer)),
    ):
        clone(*inputs)
        clone.set_weights(layer.get_weights())
        np.testing.assert_array_equal(np.asarray(clone(*inputs)), expected)
        assert clone.get_config() == layer.get_config()


def _batch(inputs, start: int, stop: int):
    return tf.nest.map_structure(lambda x: x[start:stop], inputs)


def run_task_test(build, inputs, tmp_path, mixed_precision: bool = True) -> None:
    """Everything a task model must survive except export (see the module docstring).

    Args:
        build: `build(dtype=None) -> model`; called again under each mixed-precision policy.
        inputs: a batch of at least 2 examples in the model's input structure.
        tmp_path: a folder for the `.keras` file.
        mixed_precision: run the float16 / bfloat16 comparison.
    """
    model = build()
    expected = _numpy(model(inputs, training=False))

    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    assert_all_close(clone(inputs, training=False), expected)
    assert clone.get_config() == model.get_config()

    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is type(model) and reloaded.metadata == model.metadata
    assert_all_close(reloaded(inputs, training=False), expected)

    symbolic = tf.nest.map_structure(lambda t: tuple(t.shape), model.output)
    eager = tf.nest.map_structure(lambda a: (None, *a.shape[1:]), expected)
    assert symbolic == eager, (symbolic, eager)
    reference_bytes, _ = model.backbone.byte_array(inputs)
    encoder_input = keras.Input(batch_shape=(None, *reference_bytes.shape[1:]))
    _, symbolic_scores = model.backbone.encoder(encoder_input, return_attention_scores=True)
    maps = cross_attention_maps(model, inputs)
    assert [tuple(s.shape[1:]) for s in symbolic_scores] == [m.shape[1:] for m in maps]
    np.testing.assert_allclose(maps[0].sum(-1), 1.0, atol=1e-5)

    dataset = tf.data.Dataset.from_tensor_slices(inputs).batch(2)
    assert_all_close(model.predict(dataset, verbose=0), expected, atol=1e-5, rtol=1e-5)

    if mixed_precision:
        for policy in MIXED_OUTPUT_TOLERANCE:
            mixed = build(dtype=policy)
            mixed.set_weights(model.get_weights())
            out = _numpy(mixed(inputs, training=False))
            assert all(np.isfinite(a).all() for a in tf.nest.flatten(out)), policy
            rtol, atol = MIXED_OUTPUT_TOLERANCE[policy]
            if policy in SCALED_ATOL:
                atol *= max(1.0, max(float(np.abs(a).max()) for a in tf.nest.flatten(expected)))
            assert_all_close(out, expected, atol=atol, rtol=rtol)
            mixed_bytes, _ = mixed.backbone.byte_array(inputs)
            assert keras.backend.standardize_dtype(mixed_bytes.dtype) == policy.split("_")[1]
            rtol, atol = MIXED_BYTE_ARRAY_TOLERANCE[policy]
            np.testing.assert_allclose(np.asarray(mixed_bytes, "float32"), np.asarray(reference_bytes), rtol=rtol,
                                       atol=atol, err_msg=policy)


def run_export_test(cases: dict, tmp_path, tflite: bool = True) -> None:
    """SavedModel in one fresh process (no perceiver_tf) and TFLite fp32, each equal to Keras.

    Args:
        cases: label -> `(model, inputs)`, inputs in the model's input structure.
        tflite: also convert each model to TFLite and run it one example at a time.
    """
    exports, expected = {}, {}
    for label, (model, inputs) in cases.items():
        named = inputs if isinstance(inputs, dict) else {"inputs": inputs}
        exports[label] = (write_saved_model(model, tmp_path / label, include_bytes=False).path,
                          {"serving_default": named})
        expected[label] = _numpy(model_outputs(model, inputs))
    served = run_exports_in_fresh_process(exports)
    for label in cases:
        assert_all_close(served[label]["serving_default"], expected[label], atol=1e-5)
    for label, (model, inputs) in cases.items() if tflite else ():
        content = convert_to_tflite(model, "none")
        runner = tflite_interpreter(model_content=content).get_signature_runner("serving_default")
        named = inputs if isinstance(inputs, dict) else {"inputs": inputs}
        for i in range(len(next(iter(named.values())))):  # one example at a time: TFLite's default batch is 1
            outputs = runner(**{k: v[i : i + 1] for k, v in named.items()})
            assert_all_close({k: outputs[k] for k in expected[label]},
                             {k: v[i : i + 1] for k, v in expected[label].items()}, atol=1e-4)
