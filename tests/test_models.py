"""PerceiverClassifier / build_classifier: counts, sharing, invariances, dependence, saving, errors."""

import keras
import numpy as np
import pytest
from backend import gradients, to_numpy
from harness import run_preset_test

import perceiver_tf as pt
from perceiver_tf.layers.common import LAYER_NORM_EPSILON

TINY = dict(num_latents=8, latent_dim=16, num_blocks=2, num_self_attends_per_block=1, num_self_attention_heads=2, num_bands=3)


def tiny_model(input_shape=(6, 6, 2), num_classes=5, **overrides):
    return pt.build_classifier("tiny", input_shape, num_classes, **{**TINY, "head_kernel_initializer": "glorot_uniform", **overrides})


def test_imagenet_parameter_count_is_the_papers():
    model = pt.build_classifier("imagenet", (224, 224, 3), 1000)
    assert model.count_params() == 44_912_254  # 44.9M
    encoder = model.backbone.encoder
    assert len(encoder.cross_attentions) == 2 and len(encoder.latent_transformers) == 1
    assert model.backbone.get_layer("adapter").output.shape == (None, 224 * 224, 261)
    attention = encoder.cross_attentions[0].attention
    assert attention.num_heads == 1 and attention.query_dense.kernel.shape == (1024, 261)
    assert encoder.latent_transformers[0].blocks[0].attention.num_heads == 8


#: Presets under 5M parameters: built and called in the default tier; the others (41M-326M) count
#: their parameters only, in the slow tier.
SMALL_PRESETS = [name for name, preset in pt.PRESETS.items() if preset.params < 5_000_000]


@pytest.mark.parametrize("name", [name if name in SMALL_PRESETS else pytest.param(name, marks=pytest.mark.slow)
                                  for name in pt.PRESETS])
def test_preset_builds_with_its_documented_parameter_count(name):
    run_preset_test(name, call=name in SMALL_PRESETS)
    keras.backend.clear_session()


def test_the_papers_parameter_counts_are_the_presets():
    # 44.9M, 326.2M (sharing ablation), Perceiver IO config A 48.4M.
    assert [round(pt.PRESETS[n].params / 1e5) / 10 for n in ("imagenet", "imagenet_unshared", "perceiver_io_imagenet")] \
        == [44.9, 326.2, 48.4]


def test_sharing_structure_and_weights_are_reused():
    shared = tiny_model(num_blocks=4, num_cross_attends=4)
    unshared = tiny_model(num_blocks=4, num_cross_attends=4, share_cross_attention=False, share_latent_transformer=False)
    enc_s, enc_u = shared.backbone.encoder, unshared.backbone.encoder
    assert [l.name for l in enc_s.cross_attentions] == ["cross_attention_0", "cross_attention_shared"]
    assert len(enc_u.cross_attentions) == 4 and len(enc_u.latent_transformers) == 4
    per_cross = enc_s.cross_attentions[0].count_params()
    per_latent = enc_s.latent_transformers[0].count_params()
    assert unshared.count_params() - shared.count_params() == 2 * per_cross + 3 * per_latent
    io_style = tiny_model(num_blocks=3, num_cross_attends=1).backbone.encoder
    assert len(io_style.cross_attentions) == 1


@pytest.mark.tensorflow_only  # backend-neutral Python; eager JAX takes 15 s per case for these gradients
@pytest.mark.parametrize("chunk_size", [None, 16], ids=["whole", "chunked"])
def test_a_shared_cross_attend_projects_the_inputs_once(rng, chunk_size):
    """Cross-attends 2..4 share weights and read the same inputs: their input LayerNorm and key/value
    projections run once per call (three times on the chunked path, which never holds them whole),
    and outputs and gradients are those of projecting every time."""
    model = tiny_model((6, 6, 2), num_blocks=4, num_cross_attends=4, cross_attention_chunk_size=chunk_size)
    encoder = model.backbone.encoder
    x = rng.normal(size=(2, 6, 6, 2)).astype("float32")
    key_dense = encoder.cross_attentions[1].attention.key_dense
    calls = []
    original_call = key_dense.call
    key_dense.call = lambda *args, **kwargs: calls.append(1) or original_call(*args, **kwargs)

    def projections_outputs_and_gradients():
        calls.clear()
        output = to_numpy(model(x, training=True))
        projections = len(calls)
        loss = lambda: keras.ops.sum(keras.ops.sin(model(x, training=True)))  # noqa: E731
        return projections, [output, *gradients(loss, model.trainable_weights)]

    projections, once = projections_outputs_and_gradients()
    encoder._repeats = lambda cross_attention: False  # project on every use
    every_projections, every_time = projections_outputs_and_gradients()
    assert (projections, every_projections) == ((1, 3) if chunk_size is None else (0, 0))
    for got, want in zip(once, every_time, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_numerics_follow_the_paper():
    model = tiny_model()
    norms = [l for l in model._flatten_layers() if isinstance(l, keras.layers.LayerNormalization)]
    assert norms and all(l.epsilon == LAYER_NORM_EPSILON == 1e-5 for l in norms)
    denses = [l for l in model._flatten_layers() if isinstance(l, keras.layers.Dense) and l.name != "logits"]
    for dense in denses:
        init = dense.kernel_initializer
        assert isinstance(init, keras.initializers.VarianceScaling)
        assert (init.scale, init.mode, init.distribution) == (1.0, "fan_in", "truncated_normal")
        assert dense.use_bias
    latents = np.asarray(pt.build_classifier("tiny", (8, 8, 1), 10, num_latents=256, latent_dim=256).backbone.encoder.latents)
    assert abs(latents.std() - 0.0176) < 0.002  # std of N(0, 0.02) truncated at 2 std
    assert np.abs(latents).max() <= 0.04 + 1e-6
    head = pt.build_classifier("tiny", (8, 8, 1), 10).head.dense
    assert not np.any(head.get_weights()[0])


def test_output_depends_on_input_and_gradients_reach_every_weight(rng):
    model = tiny_model()
    x = rng.normal(size=(4, 6, 6, 2)).astype("float32")
    logits = np.asarray(model(x))
    assert not np.allclose(logits[0], logits[1], atol=1e-4)
    assert not np.allclose(np.asarray(model(x + 1.0)), logits, atol=1e-4)
    grads = gradients(lambda: keras.ops.sum(model(x, training=True) ** 2), model.trainable_variables)
    missing = [v.path for v, g in zip(model.trainable_variables, grads) if g is None or not np.any(g)]
    assert not missing
    assert any("latents" in v.path for v in model.trainable_variables)


def test_points_model_is_invariant_to_point_order(rng):
    model = tiny_model(input_shape=(50, 4), input_kind="points", max_resolution=16)
    points = rng.uniform(-1, 1, size=(3, 50, 4)).astype("float32")
    permuted = points[:, rng.permutation(50)]
    np.testing.assert_allclose(model(points), model(permuted), atol=1e-5)


def test_image_model_is_invariant_only_when_positions_move_with_pixels(rng):
    model = tiny_model()
    images = rng.normal(size=(2, 6, 6, 2)).astype("float32")
    order = rng.permutation(36)
    byte_array = np.asarray(model.backbone.byte_array(images)[0])
    head, encoder = model.head, model.backbone.encoder
    together = head(encoder(byte_array[:, order]))
    np.testing.assert_allclose(together, model(images), atol=1e-5)
    pixels_only = images.reshape(2, 36, 2)[:, order].reshape(2, 6, 6, 2)
    assert np.abs(np.asarray(model(pixels_only)) - np.asarray(model(images))).max() > 1e-3


def test_padding_mask_makes_padded_inputs_equal_unpadded(rng):
    model = tiny_model(input_shape=(None, 3), input_kind="points", max_resolution=8, use_input_mask=True)
    points = rng.uniform(-1, 1, size=(1, 20, 3)).astype("float32")
    padded = np.concatenate([points, rng.normal(size=(1, 12, 3)).astype("float32")], axis=1)
    mask = np.array([[True] * 20 + [False] * 12])
    short = model({"inputs": points, "input_mask": np.ones((1, 20), bool)})
    long = model({"inputs": padded, "input_mask": mask})
    np.testing.assert_allclose(long, short, atol=1e-5)


def test_learned_and_no_position_variants_build_and_differ(rng):
    learned = tiny_model(position_encoding="learned", learned_position_channels=7)
    none = tiny_model(position_encoding="none")
    assert learned.backbone.get_layer("adapter").output.shape == (None, 36, 9)
    assert none.backbone.get_layer("adapter").output.shape == (None, 36, 2)
    images = rng.normal(size=(1, 6, 6, 2)).astype("float32")
    shuffled = images.reshape(1, 36, 2)[:, rng.permutation(36)].reshape(1, 6, 6, 2)
    np.testing.assert_allclose(none(images), none(shuffled), atol=1e-5)  # no positions: order-blind


def test_keras_file_keeps_class_metadata_and_backbone(tmp_path, rng):
    model = tiny_model(metadata={"class_names": list("abcde")})
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, pt.PerceiverClassifier) and isinstance(loaded.backbone, pt.PerceiverBackbone)
    assert loaded.metadata == {"preset": "tiny", "class_names": list("abcde")}
    x = rng.normal(size=(3, 6, 6, 2)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_backbone_from_preset_is_the_classifiers_backbone():
    backbone = pt.PerceiverBackbone.from_preset("small")  # reference setting: 8x8x1
    head = (128 + 1) * 10  # Dense(D=128 -> 10 classes)
    assert backbone.count_params() + head == pt.PRESETS["small"].params == 328_908
    assert backbone.adapters["inputs"].num_bands == 16 and backbone.encoder.num_blocks == 4


def test_a_backbone_serves_a_new_task(rng):
    """Fine-tuning's building block: one backbone's weights under another head, unchanged."""
    first = tiny_model()
    second = pt.PerceiverClassifier(pt.PerceiverBackbone.from_config(first.backbone.get_config()), num_classes=2,
                                    decoder="query")
    second.backbone.set_weights(first.backbone.get_weights())
    x = rng.normal(size=(2, 6, 6, 2)).astype("float32")
    np.testing.assert_array_equal(second.backbone(x), first.backbone(x))
    assert second(x).shape == (2, 2) and second.head.name == "head"


def test_huge_inputs_stay_finite_under_mixed_precision(rng):
    """LayerNorm and softmax run in float32: inputs times 1e4 overflow nothing (float16 max: 65504)."""
    for policy in ("mixed_float16", "mixed_bfloat16"):
        model = tiny_model(dtype=policy)
        out = np.asarray(model(rng.normal(size=(2, 6, 6, 2)).astype("float32") * 1e4))
        assert out.dtype == np.float32 and np.isfinite(out).all(), policy
        assert model.backbone.encoder.cross_attentions[0].attention.compute_dtype == policy.split("_")[1]


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: pt.build_classifier("huge", (8, 8, 1), 10), "Unknown preset 'huge'. Valid presets: tiny"),
        (lambda: pt.build_classifier("tiny", (8, 8, 1), 0), "num_classes"),
        (lambda: pt.build_classifier("tiny", (8, 8), 10, input_kind="image"), "rank 3"),
        (lambda: pt.build_classifier("tiny", (8, 8), 10), "Cannot infer input_kind"),
        (lambda: pt.build_classifier("tiny", (8, 8, 1), 10, input_kind="photo"), "Unknown input_kind"),
        (lambda: pt.build_classifier("tiny", (8, 8, 1), 10, num_latent=3), "Unknown override"),
        (lambda: pt.build_classifier("tiny", (8, 2), 10, input_kind="points"), "at least 3 channels"),
        (lambda: pt.build_classifier("tiny", (8, 1), 10, input_kind="array", position_encoding="fourier"), "no positions"),
        (lambda: pt.build_classifier("tiny", (8, 8, 1), 10, position_encoding="sinusoid"), "position_encoding"),
        (lambda: pt.build_classifier("tiny", (8, 8, 1), 10, num_blocks=1, num_cross_attends=2), "num_cross_attends"),
        (lambda: pt.build_classifier("tiny", (8, 3), 10, input_kind="points", patch_size=2), "no grid to patch"),
        (lambda: pt.build_classifier("tiny", (None, 3), 10, input_kind="points", position_encoding="learned"),
         "no fixed layout"),
        (lambda: pt.build_classifier("tiny", (8, 8, 1), 10, decoder="attention"), "Unknown decoder"),
        (lambda: pt.build_classifier("tiny", (8, 8, 1), 10, activation="softmax", multi_label=True), "independently"),
        (lambda: pt.PerceiverBackbone(adapters={"a": pt.ImageAdapter((4, 4, 1))}, num_bands=4), "to each adapter"),
        (lambda: pt.PerceiverBackbone((4, 4, 1), use_modality_mask=True), "several inputs"),
        (lambda: pt.PerceiverBackbone(adapters={"a_mask": dict(input_kind="array", input_shape=(3, 1)),
                                                "a": dict(input_kind="array", input_shape=(3, 1))}), "reserved"),
        (lambda: pt.PerceiverClassifier.from_preset("audioset_av", input_shape=(8, 8, 1)), "takes inputs"),
        (lambda: pt.PerceiverClassifier("not a backbone", 3), "must be a PerceiverBackbone"),
    ],
)
def test_bad_configuration_raises_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "shape,match",
    [((2, 6, 6, 3), "3 channels instead of 2"), ((2, 6, 6), "rank 3 instead of 4"), ((2, 6, 5, 2), "size 5 instead of 6")],
)
def test_bad_input_at_call_time_raises_clear_value_error(shape, match):
    model = tiny_model()
    with pytest.raises(ValueError, match=match) as raised:
        model(np.zeros(shape, "float32"))
    assert "Arguments received" not in str(raised.value)  # one line, not Keras' dump of the arguments
    with pytest.raises(ValueError, match=match):
        model.predict(np.zeros(shape, "float32"), verbose=0)


def test_dict_inputs_are_checked_by_name():
    model = tiny_model(input_shape=(None, 3), input_kind="points", max_resolution=8, use_input_mask=True)
    with pytest.raises(ValueError, match=r"takes a dict with keys \['input_mask', 'inputs'\]"):
        model({"inputs": np.zeros((1, 4, 3), "float32")})
    with pytest.raises(ValueError, match="takes a dict"):
        model(np.zeros((1, 4, 3), "float32"))


@pytest.mark.e2e
def test_presets_command_prints_a_table_of_every_preset(capsys):
    from perceiver_tf.cli import main

    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["preset", "parameters", "modality"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert rows == {name: f"{preset.params:,}" for name, preset in pt.PRESETS.items()}
    assert "audio + video" in next(line for line in lines if line.startswith("audioset_av"))


def test_keras_trainers_run_the_model_in_training_mode(rng):
    """`fit` / `train_on_batch` call the model with `training=True` (Keras passes it only to a model
    whose `call` declares it). With a learning rate of 0 the weights stay put, so the training loss
    equals the evaluation loss exactly when nothing behaves differently in training: not without
    dropout, yes with it; and the conv stem's batch normalisation updates its moving statistics."""
    x = rng.normal(size=(4, 16, 16, 3)).astype("float32")
    y = np.arange(4) % 5

    def compiled(**overrides):
        model = tiny_model((16, 16, 3), **overrides)
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
        return model

    for rate in (0.0, 0.5):
        model = compiled(dropout_rate=rate)
        train_loss, test_loss = float(model.train_on_batch(x, y)), float(model.test_on_batch(x, y))
        assert (train_loss == pytest.approx(test_loss, rel=1e-5)) == (rate == 0.0), (rate, train_loss, test_loss)
    model = compiled(preprocessor="conv")
    (adapter,) = model.backbone.adapters.values()
    moving_mean = adapter.conv_stem.batchnorm.moving_mean
    before = np.array(moving_mean)
    model.train_on_batch(x, y)
    assert np.abs(np.array(moving_mean) - before).max() > 1e-3, "batch statistics were not updated"


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's tf.function tracing")
def test_fit_traces_the_training_step_once(rng):
    """`fit` and `train_on_batch` build the optimizer's slot variables before tracing: without a strategy
    Keras creates them inside the first trace, and a `tf.function` whose first trace creates variables
    is traced a second time (seconds of a short run's first epoch)."""
    import tensorflow as tf

    def counting_traces():
        model = tiny_model((8, 8, 1))
        model.compile(optimizer=keras.optimizers.Lamb(1e-3), loss="sparse_categorical_crossentropy")
        traces, train_step = [], model.train_step
        model.train_step = lambda data: traces.append(1) or train_step(data)
        return model, traces

    data = tf.data.Dataset.from_tensor_slices((rng.normal(size=(8, 8, 8, 1)).astype("float32"), np.arange(8) % 5))
    model, traces = counting_traces()
    model.fit(data.batch(4), epochs=2, verbose=0, shuffle=False)
    assert len(traces) == 1
    assert int(model.optimizer.iterations) == 4

    model, traces = counting_traces()  # train_on_batch, which custom training loops call, as well
    for x, y in data.batch(4):
        model.train_on_batch(x, y)
    assert len(traces) == 1
