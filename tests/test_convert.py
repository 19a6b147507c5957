"""`perceiver_tf.convert`: transformers checkpoints -> perceiver_tf models with the same outputs.

Each architecture is a small transformers model with random weights (`hf_checkpoints`), written
with `save_pretrained` and converted; the converted model must give transformers' logits to
1e-5 relative, have the same parameter count, and use every tensor and set every variable once.
"""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest
from hf_checkpoints import (
    CASES,
    IMAGE_KINDS,
    example_inputs,
    image_size,
    reference_outputs,
    save_tiny_checkpoint,
    tiny_model,
    torch,
    transformers,
    transformers_parameter_count,
)

import perceiver_tf as pt
from perceiver_tf.commands.convert import GELU_CHOICES
from perceiver_tf.convert import ARCHITECTURES, GELU_VARIANTS, ConversionError, convert_transformers, read_checkpoint
from perceiver_tf.convert.architectures import NOT_NEEDED, build_and_assign

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml

safetensors_numpy = pytest.importorskip("safetensors.numpy")

#: "1e-5 relative": the largest difference over the largest reference magnitude.
RELATIVE_TOLERANCE = 1e-5


def relative_difference(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """kind -> (directory, transformers model)."""
    root = tmp_path_factory.mktemp("checkpoints")
    return {kind: (root / kind, save_tiny_checkpoint(kind, root / kind)) for kind in CASES}


@pytest.mark.parametrize("kind", list(CASES))
def test_converted_model_reproduces_transformers(checkpoints, kind):
    folder, reference = checkpoints[kind]
    checkpoint = read_checkpoint(folder)
    model, assigner = build_and_assign(checkpoint, image_size=image_size(kind))
    inputs = example_inputs(kind)
    expected = reference_outputs(reference, inputs)
    actual = np.asarray(model.predict(inputs["keras"], verbose=0))
    assert actual.shape == expected.shape
    difference = relative_difference(actual, expected)
    print(f"{kind}: max abs difference {np.abs(actual - expected).max():.2e}, relative {difference:.2e}")
    assert difference <= RELATIVE_TOLERANCE
    assert model.count_params() == transformers_parameter_count(reference)
    # Every source tensor used once (but torch's batch-norm step counter), every Keras variable set once.
    needed = {key for key in checkpoint.tensors if not key.endswith(NOT_NEEDED)}
    assert set(assigner.used) == needed and len(assigner.used) == len(needed)
    assert set(assigner.assigned) == {id(v) for v in model.weights} and len(assigner.assigned) == len(model.weights)


def test_masked_lm_ignores_padding_like_transformers(checkpoints):
    """Changing the ids under the mask changes neither model's logits."""
    folder, reference = checkpoints["masked_lm"]
    model = convert_transformers(folder)
    inputs = example_inputs("masked_lm")
    changed = example_inputs("masked_lm")
    padding = ~changed["keras"]["input_mask"]
    changed["keras"]["inputs"][padding] = 7
    changed["torch"]["inputs"][torch.tensor(padding)] = 7
    np.testing.assert_allclose(reference_outputs(reference, changed), reference_outputs(reference, inputs), atol=1e-5)
    np.testing.assert_allclose(model.predict(changed["keras"], verbose=0), model.predict(inputs["keras"], verbose=0),
                               atol=1e-5)


def test_image_metadata_carries_class_names_and_imagenet_preprocessing(checkpoints, tmp_path):
    folder, _ = checkpoints["fourier"]
    model = convert_transformers(folder, image_size=14)
    assert model.metadata["class_names"] == ["cat", "dog", "fish"]
    prep = model.metadata["preprocessing"]
    assert prep["image_size"] == [14, 14] and prep["resize_method"] == "bicubic" and prep["crop_fraction"] == 224 / 256
    assert model.metadata["converted_from"] == {"source": str(folder), "architecture": CASES["fourier"][0],
                                                "gelu": "exact"}
    # Without preprocessor_config.json: config.json's image_size (224 x 224 without one).
    config = json.loads((folder / "config.json").read_text())
    assert convert_transformers(folder).input_shape == (None, config["image_size"], config["image_size"], 3)
    for size, expected in ((32, 32), (None, 224)):
        json_file = tmp_path / "config" / "config.json"
        shutil.copytree(folder, json_file.parent, dirs_exist_ok=True)
        json_file.write_text(json.dumps({k: v for k, v in {**config, "image_size": size}.items() if v is not None}))
        assert convert_transformers(json_file.parent).input_shape == (None, expected, expected, 3)


def test_preprocessor_config_sets_the_input_size_and_crop(checkpoints, tmp_path):
    folder, _ = checkpoints["conv"]
    copy = tmp_path / "conv"
    copy.mkdir()
    for item in folder.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    (copy / "preprocessor_config.json").write_text(json.dumps({"size": {"height": 40, "width": 40},
                                                               "crop_size": {"height": 50, "width": 50}}))
    model = convert_transformers(copy)
    assert model.input_shape == (None, 40, 40, 3)
    assert model.metadata["preprocessing"]["crop_fraction"] == pytest.approx(0.8)


def test_gelu_variants_match_transformers_activations(checkpoints, tmp_path):
    """gelu="tanh" is transformers' `gelu_new` (DeepMind's `jax.nn.gelu`); a gelu_new checkpoint converts to it."""
    folder, exact_reference = checkpoints["fourier"]
    inputs = example_inputs("fourier")
    tanh_reference = tiny_model("fourier", hidden_act="gelu_new")  # the same random weights
    tanh_expected = reference_outputs(tanh_reference, inputs)
    exact_expected = reference_outputs(exact_reference, inputs)
    tanh = convert_transformers(folder, gelu="tanh", image_size=14)
    assert tanh.metadata["converted_from"]["gelu"] == "tanh"
    error = relative_difference(tanh.predict(inputs["keras"], verbose=0), tanh_expected)
    gap = relative_difference(tanh_expected, exact_expected)
    print(f"exact vs tanh GELU on random weights: max abs {np.abs(tanh_expected - exact_expected).max():.2e}, "
          f"relative {gap:.2e}; converted tanh vs transformers gelu_new: relative {error:.2e}")
    assert error <= RELATIVE_TOLERANCE and error < gap / 10  # the variant is told apart from the other
    tanh_reference.save_pretrained(str(tmp_path / "gelu_new"))
    follows = convert_transformers(tmp_path / "gelu_new", image_size=14)
    assert follows.metadata["converted_from"]["gelu"] == "tanh"
    assert relative_difference(follows.predict(inputs["keras"], verbose=0), tanh_expected) <= RELATIVE_TOLERANCE


def test_pytorch_bin_checkpoints_convert_too(checkpoints, tmp_path):
    folder, reference = checkpoints["learned"]
    (tmp_path / "config.json").write_text((folder / "config.json").read_text())
    torch.save(reference.state_dict(), tmp_path / "pytorch_model.bin")
    model = convert_transformers(tmp_path)
    inputs = example_inputs("learned")
    assert relative_difference(model.predict(inputs["keras"], verbose=0),
                               reference_outputs(reference, inputs)) <= RELATIVE_TOLERANCE


def test_converted_model_saves_and_reloads_with_the_same_outputs(checkpoints, tmp_path):
    folder, _ = checkpoints["masked_lm"]
    model = convert_transformers(folder)
    path = pt.convert.save_converted(model, tmp_path / "lm.keras")
    reloaded = keras.models.load_model(str(path))
    inputs = example_inputs("masked_lm")["keras"]
    np.testing.assert_array_equal(reloaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0))
    assert reloaded.count_params() == model.count_params()  # the tied embedding is stored once
    assert not list(tmp_path.glob(".*")), "no temporary left beside the output"


def test_presets_have_transformers_parameter_counts():
    """The full-size presets count what transformers' classes count in DeepMind's configurations (48.4M
    Fourier, 62.3M learned, 48.6M conv, 201.1M language, 41.1M flow; built on torch's meta device, no memory)."""
    image = dict(num_latents=512, d_latents=1024, num_blocks=8, num_self_attends_per_block=6,
                 num_cross_attention_heads=1, num_self_attention_heads=8, num_labels=1000, image_size=224)
    configs = {name: transformers.PerceiverConfig(**image, d_model=d_model) for name, d_model in (
        ("PerceiverForImageClassificationFourier", 261), ("PerceiverForImageClassificationLearned", 512),
        ("PerceiverForImageClassificationConvProcessing", 322))}
    configs["PerceiverForMaskedLM"] = transformers.PerceiverConfig(qk_channels=256, v_channels=1280)
    configs["PerceiverForOpticalFlow"] = transformers.PerceiverConfig(  # Perceiver IO Sec. 4.2 / Appendix
        num_latents=2048, d_latents=512, d_model=322, num_blocks=1, num_self_attends_per_block=24,
        num_self_attention_heads=16, num_cross_attention_heads=1, train_size=[368, 496])
    counts = {}
    with torch.device("meta"):
        for name, architecture in ARCHITECTURES.items():
            config = configs[name]
            model = getattr(transformers, name)(config)
            counts[architecture.preset] = transformers_parameter_count(model)
            trainable = sum(p.numel() for p in model.parameters())
            assert pt.PRESETS[architecture.preset].params == counts[architecture.preset], name
            assert (pt.PRESETS[architecture.preset].trainable_params or counts[architecture.preset]) == trainable, name
    assert [round(c / 1e5) / 10 for c in counts.values()] == [48.4, 62.3, 48.6, 201.1, 41.1]


def test_masked_lm_preset_builds_the_converted_layout(checkpoints):
    """`PerceiverMaskedLM.from_preset` with the tiny checkpoint's sizes has exactly its variables."""
    folder, _ = checkpoints["masked_lm"]
    converted = convert_transformers(folder)
    built = pt.PerceiverMaskedLM.from_preset(
        "language_perceiver", input_shape=(12,), num_latents=4, latent_dim=16, num_blocks=2,
        num_self_attends_per_block=2, num_cross_attention_heads=2, num_self_attention_heads=2,
        cross_attention_qk_channels=8, cross_attention_v_channels=16, self_attention_qk_channels=8,
        self_attention_v_channels=16, embedding_channels=24, max_positions=12)
    assert [tuple(w.shape) for w in built.weights] == [tuple(w.shape) for w in converted.weights]
    built.set_weights(converted.get_weights())
    inputs = example_inputs("masked_lm")["keras"]
    np.testing.assert_array_equal(built.predict(inputs, verbose=0), converted.predict(inputs, verbose=0))


# --- errors --------------------------------------------------------------------------------------


def _copy_with(folder, target, config_changes=None, tensors=None):
    """A copy of checkpoint `folder` in `target`, its config updated and its tensors replaced."""
    target.mkdir()
    config = json.loads((folder / "config.json").read_text())
    config.update(config_changes or {})
    (target / "config.json").write_text(json.dumps(config))
    weights = tensors if tensors is not None else safetensors_numpy.load_file(str(folder / "model.safetensors"))
    safetensors_numpy.save_file(weights, str(target / "model.safetensors"))
    return target


def test_errors_name_the_architecture_the_tensor_and_both_shapes(checkpoints, tmp_path):
    folder, _ = checkpoints["fourier"]
    tensors = safetensors_numpy.load_file(str(folder / "model.safetensors"))
    unknown = _copy_with(folder, tmp_path / "flow", {"architectures": ["PerceiverForMultimodalAutoencoding"]})
    with pytest.raises(ConversionError, match="'PerceiverForMultimodalAutoencoding' is not supported. Supported: "
                                              "PerceiverForImageClassificationFourier"):
        convert_transformers(unknown)
    missing = _copy_with(folder, tmp_path / "missing", tensors={k: v for k, v in tensors.items()
                                                                if k != "perceiver.embeddings.latents"})
    with pytest.raises(ConversionError, match="no tensor 'perceiver.embeddings.latents'"):
        convert_transformers(missing, image_size=14)
    resized = _copy_with(folder, tmp_path / "resized", {"num_latents": 5})
    with pytest.raises(ConversionError, match=r"'perceiver.embeddings.latents' has shape \(4, 16\).*shape \(5, 16\)"):
        convert_transformers(resized, image_size=14)
    extra = _copy_with(folder, tmp_path / "extra", tensors={**tensors, "perceiver.extra.weight": np.ones(3, "float32")})
    with pytest.raises(ConversionError, match="1 checkpoint tensor.*perceiver.extra.weight"):
        convert_transformers(extra, image_size=14)
    with pytest.raises(ConversionError, match="image_size applies to image checkpoints"):
        convert_transformers(checkpoints["masked_lm"][0], image_size=14)
    with pytest.raises(ConversionError, match="learned position table .* 7 x 7"):
        convert_transformers(checkpoints["learned"][0], image_size=16)
    with pytest.raises(ConversionError, match="Unknown gelu 'relu'"):
        convert_transformers(folder, gelu="relu")
    assert GELU_CHOICES == GELU_VARIANTS  # the CLI's copy (kept free of TensorFlow for --help)


def test_errors_name_what_the_source_lacks(tmp_path, monkeypatch):
    with pytest.raises(ConversionError, match="neither a checkpoint directory nor a hub id"):
        read_checkpoint(tmp_path / "no" / "such" / "dir")
    with pytest.raises(ConversionError, match="has no config.json"):
        read_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConversionError, match="has no weights: expected model.safetensors"):
        read_checkpoint(tmp_path)
    with pytest.raises(ConversionError, match="no 'architectures' entry"):
        convert_transformers(pt.convert.Checkpoint(str(tmp_path), {}, {}))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConversionError, match="is not valid JSON"):
        read_checkpoint(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # what a machine without network sees, at once
    with pytest.raises(ConversionError, match="could not download 'deepmind/vision-perceiver-fourier'"):
        read_checkpoint("deepmind/vision-perceiver-fourier")


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_image_architectures_have_a_preset_with_the_same_layout(checkpoints, kind):
    """The converted image model has the variables of its preset built at the checkpoint's sizes."""
    folder, _ = checkpoints[kind]
    converted = convert_transformers(folder, image_size=image_size(kind))
    architecture = ARCHITECTURES[CASES[kind][0]]
    side = converted.input_shape[1]
    built = pt.PerceiverClassifier.from_preset(
        architecture.preset, input_shape=(side, side, 3), num_classes=3, num_latents=4, latent_dim=16,
        num_blocks=2, num_self_attends_per_block=2, num_self_attention_heads=2)
    assert [tuple(w.shape) for w in built.weights] == [tuple(w.shape) for w in converted.weights]


def test_text_adapter_adds_token_and_position_embeddings_and_checks_lengths():
    adapter = pt.TextAdapter((3,), vocab_size=5, embedding_channels=2, max_positions=4)
    ids = np.array([[0, 4, 4]], "int32")
    out = np.asarray(adapter(ids))
    tokens, positions = (np.asarray(t) for t in (adapter.token_embedding.embeddings,
                                                 adapter.position_embedding.embeddings))
    np.testing.assert_allclose(out[0], tokens[[0, 4, 4]] + positions[:3], atol=1e-6)
    backbone = pt.PerceiverBackbone(adapters=adapter, num_latents=2, latent_dim=4, num_blocks=1,
                                    num_self_attends_per_block=1, num_self_attention_heads=1)
    with pytest.raises(ValueError, match=r"expects token ids of shape \(batch, 3\); received \(batch, 4\)"):
        backbone(np.zeros((1, 4), "int32"))
    with pytest.raises(ValueError, match="max_positions=2 is shorter than the input length 3"):
        pt.TextAdapter((3,), max_positions=2)


def test_learned_position_projection_and_symmetric_conv_padding():
    """The learned table goes through the projection (transformers' `positions_projection`); the symmetric
    conv pads 3 on every side, so an impulse at the first pixel lands where transformers puts it."""
    layer = pt.LearnedPositionEncoding(num_channels=2, projection_channels=3)
    out = np.asarray(layer(np.zeros((1, 2, 2, 1), "float32")))
    table = np.asarray(layer.position_embeddings)
    projected = table @ np.asarray(layer.projection.kernel) + np.asarray(layer.projection.bias)
    np.testing.assert_allclose(out[0, :, 1:], projected, atol=1e-6)
    image = np.zeros((1, 1, 8, 8), "float32")
    image[0, 0, 0, 0] = 1.0
    reference = transformers.models.perceiver.modeling_perceiver.Conv2dSamePadding(1, 1, 7, stride=2, bias=False)
    stem = pt.ConvDownsample(channels=1, use_batchnorm=False, conv_padding="symmetric")
    stem.build((1, 8, 8, 1))
    stem.conv.kernel.assign(reference.weight.detach().numpy().transpose(2, 3, 1, 0))
    with torch.no_grad():
        expected = reference(torch.tensor(image)).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(np.asarray(stem.conv(stem.pad(image.transpose(0, 2, 3, 1)))), expected, atol=1e-6)


@pytest.mark.slow
def test_full_size_imagenet_checkpoint_converts_to_the_same_logits(tmp_path):
    """DeepMind's Perceiver IO ImageNet (Fourier) configuration at full size, 224 x 224 input."""
    config = transformers.PerceiverConfig(
        num_latents=512, d_latents=1024, d_model=261, num_blocks=8, num_self_attends_per_block=6,
        num_cross_attention_heads=1, num_self_attention_heads=8, num_labels=1000, image_size=224)
    torch.manual_seed(0)
    reference = transformers.PerceiverForImageClassificationFourier(config).eval()
    reference.save_pretrained(str(tmp_path))
    model = convert_transformers(tmp_path)
    assert model.count_params() == pt.PRESETS["perceiver_io_imagenet"].params == 48_440_627
    pixels = np.random.default_rng(0).normal(size=(1, 224, 224, 3)).astype("float32")
    with torch.no_grad():
        expected = reference(inputs=torch.tensor(pixels.transpose(0, 3, 1, 2).copy())).logits.numpy()
    actual = np.asarray(model.predict(pixels, verbose=0))
    print(f"full size: max abs difference {np.abs(actual - expected).max():.2e}, "
          f"relative {relative_difference(actual, expected):.2e}")
    assert relative_difference(actual, expected) <= RELATIVE_TOLERANCE
