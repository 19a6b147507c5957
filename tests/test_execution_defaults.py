"""What `jit_compile="auto"` means: XLA under JAX and on TensorFlow accelerators, off on a TensorFlow CPU (its
compilation outweighed the gain in the measured runs) and where it would recompile."""

import keras
import numpy as np
import pytest

from perceiver_tf import backend_support, build_classifier
from perceiver_tf.backend_support import JIT_COMPILE_ENV, default_jit_compile, has_fixed_input_shapes
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


def test_auto_means_xla_under_jax_and_graphs_on_a_tensorflow_cpu(defaults):
    fixed, variable = _models()
    assert has_fixed_input_shapes(fixed) and not has_fixed_input_shapes(variable)
    jax = keras.backend.backend() == "jax"
    assert default_jit_compile(fixed) is default_jit_compile(variable) is jax  # this machine: a CPU
    compile_classifier(fixed, total_steps=4)
    compile_classifier(variable, total_steps=4)
    assert fixed.jit_compile is variable.jit_compile is jax
    # The compile config saves "auto" for the default, so the file takes the loading backend's choice.
    assert fixed.get_compile_config()["jit_compile"] == "auto"


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
