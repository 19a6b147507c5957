"""`LayerNorm`: Keras' LayerNormalization with a hand-written backward pass (used under JAX); values and
gradients equal autodiff's, in float32 and under mixed bfloat16, and models saved before it load."""

import keras
import numpy as np
import pytest
from backend import gradients, to_numpy

from perceiver_tf.layers import LayerNorm
from perceiver_tf.layers.layer_norm import normalise_last_axis


def _pair(rng, channels=6, dtype="float32"):
    """Our LayerNorm and Keras' with the same (non-trivial) gamma and beta."""
    ours, theirs = LayerNorm(epsilon=1e-5, dtype=dtype), keras.layers.LayerNormalization(epsilon=1e-5, dtype=dtype)
    for layer in (ours, theirs):
        layer.build((None, channels))
    gamma, beta = rng.normal(size=channels).astype("float32"), rng.normal(size=channels).astype("float32")
    for layer in (ours, theirs):
        layer.set_weights([gamma, beta])
    return ours, theirs


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_values_and_gradients_equal_keras_layer_normalization(rng, dtype):
    ours, theirs = _pair(rng, dtype=dtype)
    x = keras.Variable(rng.normal(size=(3, 5, 6)).astype("float32") * 4 + 2)  # off-centre, wide
    weights = keras.ops.convert_to_tensor(rng.normal(size=(3, 5, 6)).astype("float32"))

    def results(layer):
        loss = lambda: keras.ops.sum(keras.ops.sin(keras.ops.cast(layer(x), "float32")) * weights)  # noqa: E731
        return [to_numpy(layer(x)).astype("float32"), *gradients(loss, [x, *layer.trainable_weights])]

    tolerance = 1e-5 if dtype == "float32" else 3e-2
    for got, want in zip(results(ours), results(theirs), strict=True):
        np.testing.assert_allclose(got, want, atol=tolerance, rtol=tolerance)


def test_the_hand_written_backward_is_the_derivative(rng):
    """`normalise_last_axis` (the path JAX trains with) against autodiff of the same formula, on any backend."""
    gamma, beta = (keras.Variable(rng.normal(size=4).astype("float32")) for _ in range(2))
    x = keras.Variable(rng.normal(size=(2, 3, 4)).astype("float32"))
    weights = keras.ops.convert_to_tensor(rng.normal(size=(2, 3, 4)).astype("float32"))

    def autodiff():
        inputs, scale, offset = (keras.ops.cast(v, "float32") for v in (x, gamma, beta))  # tensors, not variables
        mean, variance = keras.ops.moments(inputs, axes=[-1], keepdims=True)
        return keras.ops.sum(((inputs - mean) * keras.ops.rsqrt(variance + 1e-5) * scale + offset) ** 2 * weights)

    def hand_written():
        return keras.ops.sum(normalise_last_axis(x, gamma, beta, 1e-5) ** 2 * weights)

    np.testing.assert_allclose(to_numpy(hand_written()), to_numpy(autodiff()), rtol=1e-5)
    for got, want in zip(gradients(hand_written, [x, gamma, beta]), gradients(autodiff, [x, gamma, beta]), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_models_saved_with_keras_layer_normalization_load(rng, tmp_path, monkeypatch):
    """Models saved before the blocks used `LayerNorm` (Keras' class in every block): their `.keras` files and
    weight backups load into today's models, with the same outputs."""
    import perceiver_tf.layers.layer_norm as layer_norm_module
    from perceiver_tf import build_classifier

    tiny = dict(num_latents=8, latent_dim=16, num_blocks=1, num_cross_attends=1, num_self_attends_per_block=1,
                num_bands=2)
    with monkeypatch.context() as patch:
        patch.setattr(layer_norm_module, "LayerNorm", keras.layers.LayerNormalization)
        old = build_classifier("tiny", (6, 6, 1), 3, **tiny)
    assert not any(isinstance(layer, LayerNorm) for layer in old._flatten_layers())
    old.save(tmp_path / "old.keras")
    old.save_weights(tmp_path / "old.weights.h5")
    x = rng.normal(size=(2, 6, 6, 1)).astype("float32")
    for path in ("old.keras", "old.weights.h5"):
        new = build_classifier("tiny", (6, 6, 1), 3, **tiny)
        assert sum(isinstance(layer, LayerNorm) for layer in new._flatten_layers()) == 5
        new.load_weights(tmp_path / path)
        np.testing.assert_allclose(to_numpy(new(x)), to_numpy(old(x)), atol=1e-6)
    np.testing.assert_allclose(to_numpy(keras.saving.load_model(tmp_path / "old.keras")(x)), to_numpy(old(x)),
                               atol=1e-6)
