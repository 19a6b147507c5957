"""Perceiver IO: output queries, the query decoder, dense / multi-task models, config A."""

import keras
import numpy as np
import pytest

from perceiver_tf import PRESETS, PerceiverBackbone, PerceiverIO, build_autoencoder, build_perceiver_io_imagenet
from perceiver_tf.layers import OutputQueries, PerceiverDecoder

TINY_ENCODER = dict(
    num_latents=16, latent_dim=32, num_blocks=1, num_cross_attends=1,
    num_self_attends_per_block=1, num_self_attention_heads=2,
)


def test_fourier_queries_match_numpy_reference():
    queries = np.asarray(OutputQueries((3, 4), num_bands=2)(np.zeros((2, 1))))
    assert queries.shape == (2, 12, 2 * (2 * 2 + 1))
    ys, xs = np.meshgrid(np.linspace(-1, 1, 3), np.linspace(-1, 1, 4), indexing="ij")
    pos = np.stack([ys.ravel(), xs.ravel()], axis=1)  # (12, 2)
    freqs = np.stack([np.linspace(1, 3 / 2, 2), np.linspace(1, 4 / 2, 2)])  # (2 axes, 2 bands)
    scaled = (pos[:, :, None] * freqs[None]).reshape(12, 4) * np.pi
    expected = np.concatenate([pos, np.sin(scaled), np.cos(scaled)], axis=1)
    np.testing.assert_allclose(queries[0], expected, atol=1e-5)
    np.testing.assert_array_equal(queries[0], queries[1])


def test_learned_and_combined_queries_shapes():
    learned = OutputQueries((), learned_channels=8)
    assert learned(np.zeros((3, 5, 2))).shape == (3, 1, 8)
    assert len(learned.trainable_weights) == 1
    combined = OutputQueries((4,), num_bands=3, learned_channels=5)
    assert combined(np.zeros((2, 1))).shape == (2, 4, (2 * 3 + 1) + 5)
    with pytest.raises(ValueError, match="num_bands > 0"):
        OutputQueries((), num_bands=4)
    with pytest.raises(ValueError, match="learned_channels"):
        OutputQueries((4,))


def test_decoder_shapes_and_latent_permutation_invariance(rng):
    queries = rng.normal(size=(2, 10, 12)).astype("float32")
    latents = rng.normal(size=(2, 6, 16)).astype("float32")
    decoder = PerceiverDecoder(output_channels=3)
    out, scores = decoder(queries, latents, return_attention_scores=True)
    assert out.shape == (2, 10, 3) and scores.shape == (2, 1, 10, 6)
    assert decoder.compute_output_shape(queries.shape, latents.shape) == (2, 10, 3)
    # Keys/values are an unordered set: permuting the latents leaves every output unchanged.
    permuted = latents[:, rng.permutation(6)]
    np.testing.assert_allclose(decoder(queries, permuted), out, atol=1e-5)


def test_query_residual_adds_the_queries(rng):
    """With residual, `x = q + attn`; without, `x = attn`: same weights differ by q before the MLP."""
    queries = rng.normal(size=(2, 5, 8)).astype("float32")
    latents = rng.normal(size=(2, 4, 8)).astype("float32")
    without = PerceiverDecoder(output_channels=1, final_project=False, widening_factor=1)
    with_residual = PerceiverDecoder(output_channels=1, final_project=False, use_query_residual=True)
    without(queries, latents)
    with_residual(queries, latents)
    with_residual.set_weights(without.get_weights())
    # Zero the MLP's output layer so each block returns exactly its pre-MLP value.
    for layer in (without, with_residual):
        dense = layer.cross_attention.mlp.output_dense
        dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])
    np.testing.assert_allclose(with_residual(queries, latents) - without(queries, latents), queries, atol=1e-5)


def test_multi_task_model_outputs_and_serialization(rng, tmp_path):
    model = PerceiverIO(
        PerceiverBackbone((8, 8, 1), num_bands=4, **TINY_ENCODER),
        tasks={
            "pixels": {"index_dims": (8, 8), "num_bands": 4, "output_channels": 2, "activation": "sigmoid"},
            "label": {"index_dims": (), "learned_channels": 16, "output_channels": 10, "use_query_residual": True},
            "rows": {"index_dims": (8,), "num_bands": 2, "learned_channels": 4, "output_channels": 1},
        },
    )
    x = rng.normal(size=(3, 8, 8, 1)).astype("float32")
    outputs = model(x)
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {"pixels": (3, 8, 8, 2), "label": (3, 10), "rows": (3, 8, 1)}
    assert (np.asarray(outputs["pixels"]) > 0).all() and (np.asarray(outputs["pixels"]) < 1).all()
    path = tmp_path / "io.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    for name, value in reloaded(x).items():
        np.testing.assert_allclose(value, outputs[name], atol=1e-5)


def test_autoencoder_reconstruction_error_falls():
    from sklearn.datasets import load_digits

    images = (load_digits().images[:192] / 16.0).astype("float32")[..., None]
    model = build_autoencoder(
        (8, 8, 1), num_bands=8, output_activation="sigmoid",
        **TINY_ENCODER, cross_attend_widening_factor=2,
    )
    assert model(images[:2])["reconstruction"].shape == (2, 8, 8, 1)
    model.compile(keras.optimizers.RMSprop(3e-3), loss={"reconstruction": "mse"})
    history = model.fit(images, {"reconstruction": images}, batch_size=32, epochs=6, verbose=0).history["loss"]
    # A position-blind decoder can do no better than one constant for every pixel.
    constant = float(np.var(images))
    print(f"reconstruction mse {history[0]:.4f} -> {history[-1]:.4f} (best constant {constant:.4f})")
    assert history[-1] < 0.6 * history[0]
    assert history[-1] < 0.7 * constant


def test_perceiver_io_classifier_config_a_small():
    model = build_perceiver_io_imagenet(num_classes=7, input_shape=(16, 16, 3), num_bands=4, **TINY_ENCODER)
    assert model(np.zeros((2, 16, 16, 3), "float32")).shape == (2, 7)
    encoder = model.backbone.encoder
    assert encoder.num_cross_attends == 1 and encoder.share_latent_transformer
    assert model.decoder == "query" and model.head.decoder.use_query_residual
    assert model.head.queries.learned_channels == 32  # the latent width D, as DeepMind's ClassificationDecoder


@pytest.mark.slow
def test_perceiver_io_imagenet_config_a_has_48_4m_params():
    model = build_perceiver_io_imagenet()
    assert model.count_params() == PRESETS["perceiver_io_imagenet"].params
    assert round(model.count_params() / 1e6, 1) == 48.4  # Perceiver IO paper, Table 5


@pytest.mark.parametrize("build", ["classifier", "perceiver_io"])
def test_decoders_take_the_fused_path_unless_scores_are_asked_for(rng, monkeypatch, build):
    """A backbone built with `use_fused_attention` gives its decoders the fused path: outputs equal
    the explicit model's, and the explicit attention runs only where attention maps are asked for."""
    from perceiver_tf import PerceiverClassifier
    from perceiver_tf.layers import attention

    models = []
    for fused in (False, True):
        backbone = PerceiverBackbone(input_shape=(6, 6, 1), num_bands=2, use_fused_attention=fused, **TINY_ENCODER)
        if build == "classifier":
            models.append(PerceiverClassifier(backbone, 3, decoder="query"))
        else:
            models.append(PerceiverIO(backbone, {"pixels": dict(output_channels=2, index_dims=(6, 6), num_bands=2)}))
    explicit, fused = models
    fused.set_weights(explicit.get_weights())
    x = rng.normal(size=(2, 6, 6, 1)).astype("float32")
    want = explicit(x)
    decoder = fused.head.decoder if build == "classifier" else fused.decoders["pixels"]
    latents = fused.backbone(x)
    queries = fused.head.queries(latents) if build == "classifier" else fused.queries["pixels"](latents)
    _, scores = decoder(queries, latents, return_attention_scores=True)
    assert scores.shape[-1] == TINY_ENCODER["num_latents"]

    def explicit_attend(*args, **kwargs):
        raise AssertionError("the explicit attention path ran although no attention map was asked for")

    monkeypatch.setattr(attention.PerceiverAttention, "_explicit_attend", explicit_attend)
    got = fused(x)
    for name in (want if isinstance(want, dict) else {"out": want}):
        got_value = got[name] if isinstance(got, dict) else got
        want_value = want[name] if isinstance(want, dict) else want
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got_value), keras.ops.convert_to_numpy(want_value),
                                   atol=1e-5)
