"""The paper's permuted-pixel experiment: pixels permuted by one fixed order, each keeping the position
features of where it came from, so the Perceiver is unaffected by the permutation."""

import keras
import numpy as np
import pytest

from perceiver_tf import build_classifier
from perceiver_tf.layers.pixel_permutation import pixel_permutation

TINY = dict(num_latents=8, latent_dim=16, num_blocks=1, num_cross_attends=1, num_self_attends_per_block=1,
            num_bands=4, head_kernel_initializer="glorot_uniform")


def _permuted(images: np.ndarray, seed: int) -> np.ndarray:
    batch, height, width, channels = images.shape
    flat = images.reshape(batch, height * width, channels)
    return flat[:, pixel_permutation(height * width, seed)].reshape(images.shape)


def test_permuted_pixels_with_permuted_positions_give_the_unpermuted_outputs(tmp_path):
    images = np.random.default_rng(0).uniform(size=(3, 6, 7, 2)).astype("float32")
    plain = build_classifier("tiny", (6, 7, 2), 5, **TINY)
    permuted = build_classifier("tiny", (6, 7, 2), 5, pixel_permutation_seed=4, **TINY)
    permuted.set_weights(plain.get_weights())
    expected = np.asarray(plain(images))
    np.testing.assert_allclose(permuted(_permuted(images, 4)), expected, atol=1e-5)
    # Without the position features travelling with the pixels, the permutation changes the outputs.
    assert np.abs(np.asarray(plain(_permuted(images, 4))) - expected).max() > 1e-2
    permuted.save(tmp_path / "permuted.keras")
    reloaded = keras.models.load_model(tmp_path / "permuted.keras")
    np.testing.assert_allclose(reloaded(_permuted(images, 4)), expected, atol=1e-5)


def test_the_permutation_is_a_fixed_permutation_per_seed():
    order = pixel_permutation(48, 7)
    assert sorted(order.tolist()) == list(range(48)) and order.tolist() != list(range(48))
    np.testing.assert_array_equal(order, pixel_permutation(48, 7))
    assert pixel_permutation(48, 8).tolist() != order.tolist()


@pytest.mark.parametrize("settings", [dict(preprocessor="conv1x1"), dict(patch_size=2)])
def test_position_permutation_needs_single_pixels(settings):
    with pytest.raises(ValueError, match="pixel_permutation_seed"):
        build_classifier("tiny", (8, 8, 1), 3, pixel_permutation_seed=1, **TINY, **settings)


@pytest.mark.tensorflow_only  # the CLI's data pipelines are tf.data
@pytest.mark.e2e
def test_cli_permute_pixels_trains_a_model_whose_positions_travel_with_the_pixels(tmp_path):
    from perceiver_tf.cli import main
    from perceiver_tf.testing.synthetic import write_image_folder
    from perceiver_tf.workflows.model_files import load_trained_model

    data = tmp_path / "images"
    write_image_folder(str(data), per_class=4, size=8)
    out = tmp_path / "out"
    assert main(["train", "--data", str(data), "--permute-pixels", "3", "--epochs", "1", "--output-dir", str(out),
                 "--no-tensorboard", "--verbose", "0", "--batch-size", "8", "--set", "num_latents=8"]) == 0
    model, metadata = load_trained_model(str(out / "model.keras"))
    assert metadata["preprocessing"]["pixel_permutation_seed"] == 3
    assert model.backbone.adapters["inputs"].pixel_permutation_seed == 3


@pytest.mark.tensorflow_only  # the CLI reads the file with tf ops
@pytest.mark.e2e
def test_attention_of_a_permuted_model_is_drawn_on_the_original_pixels(tmp_path, monkeypatch):
    from perceiver_tf import visualize
    from perceiver_tf.cli import main
    from perceiver_tf.data import load_source
    from perceiver_tf.data.images import ImageProcessor
    from perceiver_tf.data.preprocessing import permute_pixels
    from perceiver_tf.testing.synthetic import write_image_folder

    classes = write_image_folder(str(tmp_path / "data"), per_class=2, size=8)
    source = load_source(str(tmp_path / "data"))
    permuted_processor = ImageProcessor.from_config({**source.processor.config, "pixel_permutation_seed": 2})
    models = {}
    for name, metadata, extra in (("plain", source.metadata, {}),
                                  ("permuted", {**source.metadata, "preprocessing": permuted_processor.config},
                                   {"pixel_permutation_seed": 2})):
        models[name] = build_classifier("tiny", source.processor.input_shape, len(classes), metadata=metadata,
                                        **TINY, **extra)
    models["permuted"].set_weights(models["plain"].get_weights())
    drawn = {}
    monkeypatch.setattr(visualize, "plot_image_attention",
                        lambda image, maps, path, **kwargs: drawn.setdefault(len(drawn), (image, maps, kwargs)) and path)
    image = str(tmp_path / "data" / classes[0] / "000.png")
    for name, model in models.items():
        model.save(tmp_path / f"{name}.keras")
        assert main(["attention", "--model", str(tmp_path / f"{name}.keras"), image, "--out",
                     str(tmp_path / f"{name}.png")]) == 0
    (plain_image, plain_maps, _), (shown_image, shown_maps, kwargs) = drawn[0], drawn[1]
    assert kwargs["input_label"] == "input (pixel permutation undone)"
    np.testing.assert_allclose(shown_image, plain_image, atol=1e-6)
    assert not np.allclose(permute_pixels(plain_image, permuted_processor.config), plain_image)
    for shown, plain in zip(shown_maps, plain_maps):
        np.testing.assert_allclose(shown, plain, atol=1e-5)
