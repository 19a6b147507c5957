"""The checks every layer and every task model goes through (KerasHub's `TestCase`, as plain functions).

- `run_layer_test`: output shape = `compute_output_shape` = the symbolic call's (attention scores
  included), config round trip and Keras serialisation give identical outputs.
- `run_task_test`: config round trip, `.keras` save/load equality, symbolic outputs and attention
  scores, `predict` on a tf.data dataset, mixed float16 / bfloat16 close to float32 (byte arrays
  too: positions come from float32 coordinates).
- `run_export_test`: SavedModel `serving_default` in a fresh process without perceiver_tf, and
  TFLite fp32, both equal to Keras.

KerasHub's other checks, used by `run_task_test` and on their own:
- `assert_weight_counts`: the number of weight variables and of parameters are the caller's figures
  (a preset's: `Preset.params`, documented in presets.py).
- `run_training_step_test`: two `train_on_batch` steps on one batch lower the loss and move every
  trainable weight; a frozen backbone's weights then stay put.
- `assert_sublayer_dtypes`: under a mixed policy every sublayer computes in its compute dtype (except
  the output layers documented as float32) and every variable is float32.
- `run_preset_test`: a preset builds, has its documented parameter count and runs a batch.
"""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import perceiver_tf as pt
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


def _parameters(variables) -> int:
    return sum(int(np.prod(v.shape)) for v in variables)


def assert_weight_counts(model, num_params: int, num_weights: int | None = None,
                         num_trainable_params: int | None = None) -> None:
    """`model` has `num_params` parameters (`count_params()`), and, when given, `num_weights` weight
    variables and `num_trainable_params` trainable parameters (KerasHub's expected weight counts)."""
    actual = {"parameters": model.count_params(), "weight variables": len(model.weights),
              "trainable parameters": _parameters(model.trainable_weights)}
    expected = {"parameters": num_params, "weight variables": num_weights, "trainable parameters": num_trainable_params}
    wrong = {k: (actual[k], v) for k, v in expected.items() if v is not None and actual[k] != v}
    assert not wrong, f"{model.name}: (actual, expected) {wrong}"


def _batch_norm_statistics(model) -> set[int]:
    """Ids of the moving means and variances of `model`'s batch norms: training updates them by design."""
    return {id(v) for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)
            for v in layer.non_trainable_weights}


def _moved(variables, before: dict, moved: bool = True) -> list[str]:
    """Paths of `variables` whose value differs from `before` (`{id: value}`), or with `moved=False` the same."""
    return [v.path for v in variables if np.array_equal(np.asarray(v), before[id(v)]) != moved]


def _values(model) -> dict:
    return {id(v): np.array(v) for v in model.weights}


def run_training_step_test(model, inputs, learning_rate: float = 1e-5, run_eagerly: bool | None = None) -> None:
    """One batch, fixed targets (the outputs plus unit normal noise, so the loss starts near 1), mean
    squared error and Adam. `run_eagerly=None` takes the faster way per backend: eager under TensorFlow
    (a tiny model: 0.4 s, against 4-9 s tracing the graph, which the e2e runs cover), compiled under JAX
    (2.7 s, against 6 s eager). Adam's first step moves every weight by the learning rate at once:
    1e-3 moved an untrained classifier's logits by up to 4, and 1e-4 raised the loss of 3 of 55 tiny
    models (11 tasks x 5 seeds); 1e-5 lowered it for all of 110.

    Two `train_on_batch` steps: the second step's loss (after one update) is below the first's, every
    trainable weight has moved (a weight no gradient reaches would not) and no non-trainable weight has
    (batch-norm statistics excepted). Then (TensorFlow backend), with `model.backbone.trainable = False`
    and a fresh compile, one more step moves every weight of the task's own and none of the backbone's.
    """
    if run_eagerly is None:
        run_eagerly = keras.backend.backend() == "tensorflow"
    how = dict(run_eagerly=run_eagerly, jit_compile=False if run_eagerly else "auto")
    rng = np.random.default_rng(0)
    targets = tf.nest.map_structure(lambda a: (a + rng.normal(size=a.shape)).astype("float32"),
                                    _numpy(model(inputs, training=False)))
    model.compile(keras.optimizers.Adam(learning_rate), loss="mse", **how)
    before = _values(model)
    losses = [model.train_on_batch(inputs, targets, return_dict=True)["loss"] for _ in range(2)]
    assert losses[1] < losses[0], f"{model.name}: loss {losses[0]} -> {losses[1]} after one step"
    assert model.trainable_weights, model.name
    unmoved = _moved(model.trainable_weights, before, moved=False)
    assert not unmoved, f"{model.name}: trainable weights that no step moved: {unmoved}"
    statistics = _batch_norm_statistics(model)
    moved = _moved([v for v in model.non_trainable_weights if id(v) not in statistics], before)
    assert not moved, f"{model.name}: non-trainable weights that a step moved: {moved}"

    if keras.backend.backend() != "tensorflow":  # the same Keras flag on every backend; JAX would compile again
        return  # (test_finetune freezes a backbone under both backends)
    model.backbone.trainable = False
    model.compile(keras.optimizers.Adam(learning_rate), loss="mse", **how)
    before = _values(model)
    model.train_on_batch(inputs, targets)
    moved = _moved(model.backbone.weights, before)
    assert not moved, f"{model.name}: weights of a frozen backbone that a step moved: {moved}"
    unmoved = _moved(model.trainable_weights, before, moved=False)
    assert model.trainable_weights and not unmoved, f"{model.name}: task weights that no step moved: {unmoved}"


def assert_sublayer_dtypes(layer, policy: str, float32_layers=(), include_self: bool = True) -> None:
    """Under the mixed `policy` (e.g. "mixed_bfloat16"): every sublayer of `layer` (and `layer` itself
    with `include_self`) computes in the policy's compute dtype and keeps its variables in its variable
    dtype (float32), and so does every weight; `float32_layers` names the layers documented to compute
    in float32 whatever the policy. Input layers take the inputs' dtype and are skipped.
    (LayerNorm and softmax compute internally in float32 but their layers keep the policy: no exception.)
    """
    policy = keras.dtype_policies.get(policy)
    wrong = []
    for sublayer in layer._flatten_layers(include_self=include_self):
        if isinstance(sublayer, keras.layers.InputLayer):
            continue
        compute = "float32" if sublayer.name in float32_layers else policy.compute_dtype
        if (sublayer.compute_dtype, sublayer.variable_dtype) != (compute, policy.variable_dtype):
            wrong.append(f"{sublayer.name} ({type(sublayer).__name__}): computes in {sublayer.compute_dtype}, "
                         f"variables {sublayer.variable_dtype}; expected {compute}, {policy.variable_dtype}")
    wrong += [f"weight {w.path}: {w.dtype}" for w in layer.weights
              if keras.backend.standardize_dtype(w.dtype) != policy.variable_dtype]
    assert not wrong, f"{layer.name} under {policy.name}:\n" + "\n".join(wrong)


#: The model each `Preset.task` builds.
PRESET_TASKS = {"classifier": pt.PerceiverClassifier, "masked_lm": pt.PerceiverMaskedLM,
                "optical_flow": pt.PerceiverOpticalFlow}


def _example_batch(model, rng):
    """One example of each of `model`'s inputs (a dict by name, or the one array): random floats, true
    masks, token ids below 256."""
    def example(tensor):
        shape, dtype = (1, *tensor.shape[1:]), keras.backend.standardize_dtype(tensor.dtype)
        if dtype == "bool":
            return np.ones(shape, bool)
        if dtype.startswith("int"):
            return rng.integers(0, 256, shape).astype(dtype)
        return rng.random(shape, dtype="float32")

    batch = {tensor.name: example(tensor) for tensor in model.inputs}
    return batch if len(batch) > 1 else next(iter(batch.values()))


def run_preset_test(name: str, call: bool = True) -> None:
    """KerasHub's preset check: an unknown name is refused, preset `name` builds its task in its reference
    setting with exactly its documented `Preset.params` (and `trainable_params`), and, with `call`, one
    example gives finite outputs of the symbolic outputs' shapes."""
    spec = pt.PRESETS[name]
    task = PRESET_TASKS[spec.task]
    with pytest.raises(ValueError, match="Unknown preset 'clowntown'"):
        task.from_preset("clowntown")
    model = task.from_preset(name)
    assert_weight_counts(model, num_params=spec.params, num_trainable_params=spec.trainable_params or spec.params)
    if call:
        outputs = _numpy(model(_example_batch(model, np.random.default_rng(0)), training=False))
        symbolic = tf.nest.map_structure(lambda t: (1, *t.shape[1:]), model.output)
        assert tf.nest.map_structure(lambda a: a.shape, outputs) == symbolic
        assert all(np.isfinite(a).all() for a in tf.nest.flatten(outputs)), name


def run_task_test(build, inputs, tmp_path, mixed_precision: bool = True, weight_counts: tuple[int, int] | None = None,
                  training: bool = True) -> None:
    """Everything a task model must survive except export (see the module docstring).

    Args:
        build: `build(dtype=None) -> model`; called again under each mixed-precision policy.
        inputs: a batch of at least 2 examples in the model's input structure.
        tmp_path: a folder for the `.keras` file.
        mixed_precision: run the float16 / bfloat16 comparison and check the backbone's sublayer dtypes.
        weight_counts: `(weight variables, parameters)` the model must have (`assert_weight_counts`).
        training: run `run_training_step_test` on a fresh build.
    """
    model = build()
    expected = _numpy(model(inputs, training=False))
    if weight_counts is not None:
        assert_weight_counts(model, num_weights=weight_counts[0], num_params=weight_counts[1])

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
            # The backbone's layers; the task's own (heads, decoders) in test_tasks.py (a known failure there).
            assert_sublayer_dtypes(mixed.backbone, policy, include_self=False)

    if training:
        run_training_step_test(build(), inputs)


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
