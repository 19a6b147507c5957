"""What `jit_compile="auto"` means: XLA under JAX and, under TensorFlow, for fixed input shapes on one device; off
where it would recompile (variable input sizes), under tf.distribute strategies, and for chunked attention on a
TensorFlow CPU (XLA raised its training memory past the bound chunking promises)."""

import keras
import numpy as np
import pytest

from perceiver_tf import backend_support, build_classifier
from perceiver_tf.backend_support import (
    JIT_COMPILE_ENV,
    default_jit_compile,
    has_fixed_input_shapes,
    uses_chunked_attention,
)
from perceiver_tf.training import compile_classifier

TINY = dict(num_latents=8, latent_dim=16, num_blocks=1, num_cross_attends=1, num_self_attends_per_block=1, num_bands=2)


@pytest.fixture
def defaults(monkeypatch):
    """The defaults as a user gets them (the suite turns XLA off under TensorFlow; see conftest)."""
    monkeypatch.delenv(JIT_COMPILE_ENV, raising=False)
    return monkeypatch


def _models():
    fixed = build_classifier("tiny", (6, 6, 1), 3, **TINY)
    variable = build_classifier("tiny", (None, 3), 3, input_kind="points", **TINY)  # clouds of any size
    return fixed, variable


def test_auto_means_xla_for_fixed_shapes_and_graphs_for_variable_sizes(defaults):
    fixed, variable = _models()
    assert has_fixed_input_shapes(fixed) and not has_fixed_input_shapes(variable)
    jax = keras.backend.backend() == "jax"
    assert default_jit_compile(fixed) is True
    assert default_jit_compile(variable) is jax  # TensorFlow's XLA would compile once per cloud size
    compile_classifier(fixed, total_steps=4)
    compile_classifier(variable, total_steps=4)
    assert fixed.jit_compile is True and variable.jit_compile is jax
    # The compile config saves "auto" for the default, so the file takes the loading backend's choice.
    assert fixed.get_compile_config()["jit_compile"] == "auto"


def test_chunked_attention_stays_a_graph_on_a_tensorflow_cpu(defaults):
    """Chunked cross-attention bounds training memory; XLA on a CPU raised it (learned positions, a million
    inputs: 3.9 -> 4.4 GB), so there "auto" keeps the graph. Elsewhere the chunked model is like any other."""
    chunked = build_classifier("tiny", (64, 4), 3, input_kind="array", cross_attention_chunk_size=16,
                               **{k: v for k, v in TINY.items() if k != "num_bands"})
    assert uses_chunked_attention(chunked) and not uses_chunked_attention(_models()[0])
    assert default_jit_compile(chunked) is (keras.backend.backend() == "jax")
    if keras.backend.backend() == "tensorflow":
        defaults.setattr(backend_support, "accelerator", lambda: "gpu")
        assert default_jit_compile(chunked) is True


@pytest.mark.tensorflow_only
def test_auto_means_xla_on_a_tensorflow_accelerator_for_fixed_shapes(defaults):
    defaults.setattr(backend_support, "accelerator", lambda: "gpu")
    fixed, variable = _models()
    assert default_jit_compile(fixed) is True
    # TensorFlow's XLA compiles once per new input shape: a variable size stays a tf.function graph.
    assert default_jit_compile(variable) is False
    compile_classifier(fixed, total_steps=4)
    assert fixed.jit_compile is True
    assert fixed.get_compile_config()["jit_compile"] == "auto"


@pytest.mark.tensorflow_only  # tf.distribute
def test_auto_keeps_tf_distribute_strategies_on_graphs(defaults):
    import tensorflow as tf

    defaults.setattr(backend_support, "accelerator", lambda: "gpu")
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        model = build_classifier("tiny", (6, 6, 1), 3, **TINY)
        compile_classifier(model, total_steps=4)
    assert model.jit_compile is False


@pytest.mark.parametrize("forced", ["0", "1"])
def test_environment_variable_decides_auto(defaults, forced):
    defaults.setenv(JIT_COMPILE_ENV, forced)
    fixed, variable = _models()
    assert default_jit_compile(fixed) is default_jit_compile(variable) is (forced == "1")
    model = compile_classifier(fixed, total_steps=4, jit_compile=False)  # an explicit choice wins
    assert model.jit_compile is False


def test_default_xla_classifier_trains_like_the_graph(defaults):
    """XLA changes speed, not results: the XLA and graph steps agree."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 6, 6, 1)).astype("float32"), np.arange(16) % 3
    losses = []
    for jit_compile in (True, False):
        keras.utils.set_random_seed(0)
        model = compile_classifier(build_classifier("tiny", (6, 6, 1), 3, **TINY), total_steps=8,
                                   optimizer="adamw", learning_rate=1e-2, jit_compile=jit_compile)
        losses.append(model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)


def test_a_compiled_run_pads_every_batch_to_one_shape(tmp_path, monkeypatch):
    """XLA compiles one program per input shape: with `jit_compile` a split's last partial batch is padded
    to the full batch (copies at weight 0) so that the training and test steps compile once each; without,
    it keeps its size. A split smaller than a batch is one batch already; a strategy's device multiple stays.
    The padding counts in no score."""
    import perceiver_tf as pt
    import perceiver_tf.training as training
    from perceiver_tf.workflows.train import batch_multiple

    assert [batch_multiple(None, 64, n, True) for n in (1437, 40, None)] == [64, 1, 64]
    assert batch_multiple(None, 64, 1437, False) == 1
    two_devices = type("TwoDevices", (), {"batch_multiple": 2})()
    assert batch_multiple(two_devices, 39, 360, True) == 40 and batch_multiple(two_devices, 39, 360, False) == 2

    batch_sizes = {}
    train_classifier = training.train_classifier

    def recording(model, train_data, validation_data, *args, **kwargs):
        for split, data in (("train", train_data), ("validation", validation_data)):
            batch_sizes[split] = [int(batch[0].shape[0]) for batch in data]
        return train_classifier(model, train_data, validation_data, *args, **kwargs)

    monkeypatch.setattr(training, "train_classifier", recording)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, size=(90, 6, 6, 1)).astype("uint8"), np.arange(90) % 3  # 72 train, 18 validation
    for jit_compile, expected in ((True, {"train": [16] * 5, "validation": [16] * 2}),
                                  (False, {"train": [16] * 4 + [8], "validation": [16, 2]})):
        run = pt.train((x, y), tmp_path / str(jit_compile), epochs=1, batch_size=16, jit_compile=jit_compile,
                       preset="tiny", set=TINY, verbose=0, no_tensorboard=True)
        assert batch_sizes == expected
        correct = run.metrics["val_accuracy"] * 18  # a share of the 18 validation examples, not of 32 padded ones
        assert correct == pytest.approx(round(correct), abs=1e-4)
