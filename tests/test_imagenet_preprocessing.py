"""ImageNet preprocessing of DeepMind's Perceivers: centre crop, bicubic resize, per-channel normalisation.

The reference is transformers' PIL-backend `PerceiverImageProcessorPil` (torchvision is not needed).
"""

import json
import types

import numpy as np
import pytest
import tensorflow as tf

from perceiver_tf.data.images import ImageProcessor
from perceiver_tf.data.model_inputs import describe_inputs
from perceiver_tf.data.preprocessing import IMAGENET_MEAN, IMAGENET_STD, image_to_model_input, imagenet_preprocessing
from perceiver_tf.data.video import VideoProcessor
from perceiver_tf.export.saved_model import IMAGE_RANGE_TOLERANCE, accepted_ranges
from perceiver_tf.models.preprocessor import ImagePreprocessor

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml

MEAN, STD = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
SHAPES = [(300, 400), (500, 333)]  # crop along the width; along the height with an odd excess (209 rows)


def _smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 `(height, width, 3)`: smooth waves plus mild noise, different per channel."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    channels = []
    for c in range(3):
        f = rng.uniform(2, 9, 4)
        channels.append(127.5 + 60 * np.sin(f[0] * x + f[1] * y + c) + 50 * np.cos(f[2] * f[3] * x * y)
                        + rng.normal(0, 8, (height, width)))
    return np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8)


def _crop_box(height: int, width: int) -> tuple[int, int, int]:
    """transformers' crop: side `int(224 / 256 * min)`, offsets `(excess) // 2`."""
    side = int(224 / 256 * min(height, width))
    return (height - side) // 2, (width - side) // 2, side


@pytest.fixture(scope="module")
def pil_processor():
    pil = pytest.importorskip("transformers.models.perceiver.image_processing_pil_perceiver")
    return pil.PerceiverImageProcessorPil()


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_transformers_perceiver_image_processor(pil_processor, shape):
    image = _smooth_image(*shape)
    reference = np.asarray(pil_processor(image, return_tensors="np")["pixel_values"][0]).transpose(1, 2, 0)
    ours = ImageProcessor.from_config(imagenet_preprocessing()).from_decoded(tf.constant(image)).numpy()
    assert ours.shape == reference.shape == (224, 224, 3)
    # In 8-bit levels: TF's and PIL's bicubic kernels differ a little before both round to uint8. Measured:
    # mean 0.203 / 0.189, max 1.000 / 1.000 levels (300x400 / 500x333); i.e. mean 0.0035, max 0.0175 normalised.
    levels = np.abs(ours - reference) * STD * 255
    assert levels.mean() < 0.25 and levels.max() < 1.01, (levels.mean(), levels.max())


@pytest.mark.parametrize("shape", SHAPES)
def test_the_crop_is_transformers_centre_crop(pil_processor, shape):
    from transformers.image_utils import SizeDict

    image = _smooth_image(*shape, seed=1)
    top, left, side = _crop_box(*shape)
    expected = pil_processor.center_crop(image.transpose(2, 0, 1), SizeDict(height=224, width=224),
                                         crop_size=SizeDict(height=256, width=256)).transpose(1, 2, 0)
    np.testing.assert_array_equal(expected, image[top : top + side, left : left + side])
    # Crop only: a resize to the crop's own size is the identity.
    processor = ImageProcessor((side, side), scale=1.0, offset=0.0, crop_fraction=224 / 256)
    np.testing.assert_allclose(processor.from_decoded(tf.constant(image)).numpy(), expected, atol=1e-3)

    # Everything outside the crop is red: not one red pixel may reach the model (one row or column off would).
    framed = np.zeros_like(image)
    framed[...] = (255, 0, 0)
    framed[top : top + side, left : left + side] = (0, 128, 0)
    ours = ImageProcessor.from_config(imagenet_preprocessing()).from_decoded(tf.constant(framed)).numpy()
    np.testing.assert_allclose(ours, np.broadcast_to((np.array([0, 128, 0]) / 255 - MEAN) / STD, ours.shape),
                               atol=1e-5)


@pytest.mark.parametrize("resize_method", ["bilinear", "bicubic"])
def test_per_channel_scale_and_offset_normalise_each_channel(resize_method):
    pixel = np.array([10, 128, 250], np.uint8)
    image = tf.constant(np.broadcast_to(pixel, (37, 53, 3)))
    config = {**imagenet_preprocessing(16), "resize_method": resize_method}
    out = ImageProcessor.from_config(config).from_decoded(image).numpy()
    assert out.shape == (16, 16, 3)
    np.testing.assert_allclose(out, np.broadcast_to((pixel / 255 - MEAN) / STD, out.shape), rtol=0, atol=1e-5)


@pytest.mark.parametrize("channels, scale, offset", [(3, 1 / 255, 0.0), (3, 2 / 255, -1.0), (1, 1 / 255, 0.0)])
def test_scalar_configs_are_unchanged(channels, scale, offset):
    image = tf.constant(np.random.default_rng(2).integers(0, 256, (2, 41, 29, channels)), tf.uint8)
    direct = tf.image.resize(tf.cast(image, tf.float32), (12, 17), antialias=True) * scale + offset
    processor = ImageProcessor((12, 17), channels, scale=scale, offset=offset)
    assert processor.config == {"modality": "image", "image_size": [12, 17], "channels": channels,
                                "scale": scale, "offset": offset}
    assert ImageProcessor.from_config(processor.config).config == processor.config
    np.testing.assert_array_equal(processor.from_decoded(image[0]).numpy(), direct[0].numpy())
    np.testing.assert_array_equal(image_to_model_input(image, processor.config).numpy(), direct.numpy())
    video = VideoProcessor((12, 17), channels, num_frames=2, scale=scale, offset=offset)
    np.testing.assert_array_equal(image_to_model_input(image, video.config).numpy(), direct.numpy())


def test_the_imagenet_config_round_trips_through_json():
    config = imagenet_preprocessing()
    assert config == {"modality": "image", "image_size": [224, 224], "channels": 3,
                      "scale": [1 / (255 * s) for s in IMAGENET_STD],
                      "offset": [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)],
                      "crop_fraction": 0.875, "resize_method": "bicubic"}
    stored = json.loads(json.dumps(config))
    assert ImageProcessor.from_config(stored).config == config
    assert imagenet_preprocessing(384, 1.0)["image_size"] == [384, 384]


@pytest.mark.parametrize("change, key", [
    ({"crop_fraction": 0}, "crop_fraction"),
    ({"crop_fraction": 2}, "crop_fraction"),
    ({"crop_fraction": -0.5}, "crop_fraction"),
    ({"crop_fraction": True}, "crop_fraction"),
    ({"crop_fraction": "0.875"}, "crop_fraction"),
    ({"resize_method": "nearest"}, "resize_method"),
    ({"scale": [0.1, 0.2]}, "scale"),
    ({"offset": [0.0, 0.0, 0.0, 0.0]}, "offset"),
    ({"offset": [0.0, "x", 0.0]}, "offset"),
    ({"scale": [0.1, 0.0, 0.1]}, "scale"),
    ({"channels": 1}, "scale"),
])
def test_invalid_configs_raise_one_line_naming_the_key(change, key):
    config = {**imagenet_preprocessing(), **change}
    with pytest.raises(ValueError) as raised:
        ImageProcessor.from_config(config)
    message = str(raised.value)
    assert f"`{key}`" in message and "\n" not in message
    with pytest.raises(ValueError, match=key):
        image_to_model_input(tf.zeros([4, 4, config["channels"]], tf.uint8), config)
    if key == "resize_method":
        assert "bilinear, bicubic" in message
    if key == "crop_fraction":
        assert "(0, 1]" in message


def test_accepted_ranges_and_described_inputs_of_an_imagenet_model():
    config = imagenet_preprocessing()
    low, high = accepted_ranges(types.SimpleNamespace(preprocessor=ImagePreprocessor(config)))["inputs"]
    lows, highs = -MEAN / STD, (1 - MEAN) / STD  # 0 and 255 normalised, per channel
    width = highs.max() - lows.min()
    assert low == pytest.approx(lows.min() - IMAGE_RANGE_TOLERANCE * width)
    assert high == pytest.approx(highs.max() + IMAGE_RANGE_TOLERANCE * width)
    assert low < lows.min() and highs.max() < high and high < 255.0 and low > -255.0
    holds = describe_inputs(ImageProcessor.from_config(config))["inputs"]["holds"]
    assert holds == ("pixels normalised per channel, in [-2.118, 2.64]: (8-bit value / 255 - mean) / std, "
                     "mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]")
    assert describe_inputs(ImageProcessor((8, 8)))["inputs"]["holds"] == "pixels in [0, 1] (8-bit value / 255)"
    scalar = accepted_ranges(types.SimpleNamespace(preprocessor=ImagePreprocessor(ImageProcessor((8, 8)).config)))
    assert scalar == {"inputs": (-0.5, 1.5)}


def test_decoding_bytes_in_a_graph_matches_eager():
    processor = ImageProcessor.from_config(imagenet_preprocessing(32))
    images = [_smooth_image(*shape, seed=3) for shape in SHAPES]
    encoded = tf.constant([tf.io.encode_png(image).numpy() for image in images])
    eager = [processor.decode_bytes(item).numpy() for item in encoded]
    for image, expected in zip(images, eager):
        np.testing.assert_array_equal(processor.from_decoded(tf.constant(image)).numpy(), expected)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(batch):  # as the `serving_bytes` signature maps its rows
        return tf.map_fn(processor.decode_bytes, batch, fn_output_signature=tf.TensorSpec([32, 32, 3], tf.float32))

    np.testing.assert_allclose(serve(encoded).numpy(), np.stack(eager), rtol=0, atol=1e-6)


def test_rand_augment_works_in_the_pixels_range_under_imagenet_normalisation():
    """RandAugment sees [0, 1] pixels (not the normalised values), so augmented inputs stay in each channel's range."""
    config = imagenet_preprocessing(image_size=16)
    plain = ImageProcessor.from_config(config)
    augmented = ImageProcessor.from_config(config, rand_augment=True)
    assert augmented.config == plain.config  # augmentation is not part of the saved preprocessing
    image = plain.from_decoded(tf.constant(_smooth_image(40, 30)))
    low = (0.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    high = (1.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    outputs = np.stack([augmented.prepare(image, True, tf.zeros([2], tf.int32)).numpy() for _ in range(8)])
    assert (outputs >= low - 1e-4).all() and (outputs <= high + 1e-4).all()
    # Augmenting the normalised values as if they were [0, 1] pixels would clip away everything below 0.
    assert (outputs.reshape(8, -1).min(axis=1) < -0.5).all(), outputs.reshape(8, -1).min(axis=1)
    assert np.abs(outputs - image.numpy()).max() > 0.1  # it does augment
    np.testing.assert_array_equal(augmented.prepare(image, False, tf.zeros([2], tf.int32)).numpy(), image.numpy())
