"""The task owns its preprocessing: a `Preprocessor` layer saved in the `.keras` file, the one source
of `metadata["preprocessing"]`, preparing arrays exactly as files."""

import json
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image

from perceiver_tf import PerceiverClassifier, build_classifier, load_model
from perceiver_tf.models.preprocessor import ImagePreprocessor, Preprocessor, SensorPreprocessor

pytestmark = pytest.mark.tensorflow_only  # the processors are TensorFlow ops

IMAGE_CONFIG = {"modality": "image", "image_size": [8, 8], "channels": 1, "scale": 1 / 255, "offset": 0.0}
TINY = {"num_latents": 8, "latent_dim": 16, "num_blocks": 1, "num_self_attends_per_block": 1, "num_bands": 2, "num_cross_attends": 1}


def _classifier(metadata: dict):
    return build_classifier("tiny", (8, 8, 1), 3, input_kind="image", metadata=metadata, **TINY)


def test_the_preprocessor_is_saved_in_the_keras_file_and_is_the_only_copy(tmp_path):
    """`.keras` holds the layer (not a second copy in the metadata); reloaded, it prepares the same."""
    model = _classifier({"class_names": ["a", "b", "c"], "modality": "image", "preprocessing": IMAGE_CONFIG})
    assert isinstance(model.preprocessor, ImagePreprocessor) and model.metadata["preprocessing"] == IMAGE_CONFIG
    path = str(tmp_path / "m.keras")
    model.save(path)
    saved = json.loads(zipfile.ZipFile(path).read("config.json"))["config"]
    assert saved["preprocessor"]["class_name"] == "ImagePreprocessor"
    assert "preprocessing" not in saved["metadata"]  # one copy: it cannot drift from the layer
    reloaded = keras.saving.load_model(path)
    assert reloaded.metadata == model.metadata and type(reloaded.preprocessor) is ImagePreprocessor
    image = np.random.default_rng(0).integers(0, 256, (20, 13), np.uint8)
    np.testing.assert_array_equal(reloaded.preprocessor(image), model.preprocessor(image))


def test_arrays_are_prepared_as_the_same_pixels_in_a_file(tmp_path):
    """`preprocessor(uint8 image)` equals `preprocessor.from_file(its PNG)`: one path for both."""
    preprocessor = ImagePreprocessor(IMAGE_CONFIG)
    image = np.random.default_rng(1).integers(0, 256, (30, 17), np.uint8)
    Image.fromarray(image).save(tmp_path / "x.png")
    from_array = np.asarray(preprocessor(image))
    assert from_array.shape == (8, 8, 1) and 0 <= from_array.min() and from_array.max() <= 1
    np.testing.assert_allclose(from_array, np.asarray(preprocessor.from_file(tmp_path / "x.png")), atol=1e-6)


def test_a_model_saved_with_preprocessing_in_its_metadata_still_loads(tmp_path):
    """Models saved before the layer existed (metadata["preprocessing"] only) get their preprocessor from it."""
    model = _classifier({"class_names": ["a", "b", "c"], "modality": "image"})
    assert model.preprocessor is None and "preprocessing" not in model.metadata
    path = tmp_path / "old.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:  # rewrite config.json as an older perceiver_tf wrote it
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    config["config"].pop("preprocessor")
    config["config"]["metadata"]["preprocessing"] = IMAGE_CONFIG
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    old = load_model(path)
    assert isinstance(old.preprocessor, ImagePreprocessor) and old.metadata["preprocessing"] == IMAGE_CONFIG


def test_each_modality_has_its_layer_and_refuses_another_modalitys_config():
    """`SensorPreprocessor` prepares recordings (centre-cropped or zero-padded in time) and refuses an image config."""
    sensors = SensorPreprocessor({"modality": "sensors", "num_steps": 5, "channels": 2})
    recording = np.arange(14, dtype=np.float32).reshape(7, 2)
    np.testing.assert_array_equal(sensors(recording), recording[1:6])
    np.testing.assert_array_equal(sensors(recording[:3]), np.concatenate([recording[:3], np.zeros((2, 2))]))
    with pytest.raises(ValueError, match="SensorPreprocessor prepares sensors examples"):
        SensorPreprocessor(IMAGE_CONFIG)
    with pytest.raises(ValueError, match="must be a perceiver_tf Preprocessor"):
        PerceiverClassifier(_classifier({}).backbone, 3, preprocessor="not a layer")
    assert issubclass(SensorPreprocessor, Preprocessor)


def test_an_image_with_alpha_is_read_as_its_file_would_be_and_a_batch_is_refused():
    """RGBA / grey + alpha arrays lose their alpha (as decoding the file does); a batch given as one
    example is a one-line error, not an image with as many channels as examples."""
    rgb = ImagePreprocessor({**IMAGE_CONFIG, "channels": 3})
    pixels = np.random.default_rng(2).integers(0, 256, (10, 12, 3), np.uint8)
    rgba = np.concatenate([pixels, np.full((10, 12, 1), 7, np.uint8)], axis=-1)
    np.testing.assert_array_equal(rgb(rgba), rgb(pixels))
    grey = ImagePreprocessor(IMAGE_CONFIG)
    np.testing.assert_array_equal(grey(np.stack([pixels[..., 0], pixels[..., 1]], -1)), grey(pixels[..., :1]))
    with pytest.raises(ValueError, match=r"got shape \(3, 8, 8\)") as raised:
        grey(np.zeros((3, 8, 8), np.uint8))
    assert "\n" not in str(raised.value)
