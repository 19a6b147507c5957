"""MixUp / CutMix label mass, the fixed pixel permutation, and processors rebuilt from model metadata."""

import json

import numpy as np
import pytest
import tensorflow as tf

from perceiver_tf.data import MODALITY_OPTIONS, DataOptions
from perceiver_tf.data.augment import cutmix, mixup
from perceiver_tf.data.images import ImageProcessor
from perceiver_tf.data.processor_factory import make_processor
from perceiver_tf.data.processors import processor_from_config

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml


def test_mixup_and_cutmix_mix_labels_by_the_mixed_amount():
    images = tf.constant(np.stack([np.zeros((8, 8, 1)), np.ones((8, 8, 1))]), tf.float32)
    labels = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    seed = tf.constant([3, 4])
    mixed, soft = mixup(images, labels, seed, alpha=0.4)
    np.testing.assert_allclose(tf.reduce_sum(soft, -1), 1.0, atol=1e-6)
    # image 0 (zeros) mixed with image 1 (ones): its mean pixel equals the weight of label 1.
    np.testing.assert_allclose(tf.reduce_mean(mixed[0]), soft[0, 1], atol=1e-6)
    pasted, soft = cutmix(images, labels, seed, alpha=1.0)
    np.testing.assert_allclose(tf.reduce_mean(pasted[0]), soft[0, 1], atol=1e-6)  # label = pasted area
    assert set(np.unique(pasted.numpy())) <= {0.0, 1.0}


def test_pixel_permutation_is_fixed_and_a_permutation():
    processor = ImageProcessor((4, 5), channels=3, pixel_permutation_seed=11)
    image = tf.reshape(tf.range(60, dtype=tf.float32), (4, 5, 3))
    once = processor.prepare(image, False, tf.zeros([2], tf.int32)).numpy()
    again = processor.prepare(image, True, tf.constant([5, 5])).numpy()
    np.testing.assert_array_equal(once, again)  # the same permutation in training and evaluation
    assert not np.array_equal(once, image.numpy())
    pixels = lambda x: sorted(map(tuple, x.reshape(-1, 3)))  # noqa: E731
    assert pixels(once) == pixels(image.numpy())  # whole pixels (all channels) move together


def test_processors_round_trip_through_model_metadata():
    values = dict(sample_rate=8000, clip_seconds=0.5, audio_features="waveform", audio_patch_size=100,
                  num_points=77, image_size=(6, 7), channels=1, pixel_permutation_seed=2, num_frames=3)

    def options(modality):  # each modality is given only the options it reads
        return DataOptions(**{name: value for name, value in values.items() if modality in MODALITY_OPTIONS[name][1]})

    samples = {"sensors": (40, 5), "audio_video": (9, 9, 3)}
    for modality in ("image", "audio", "points", "sensors", "audio_video"):
        processor = make_processor(modality, options(modality), samples.get(modality))
        rebuilt = processor_from_config(json.loads(json.dumps(processor.config)))  # as stored in a .keras file
        assert type(rebuilt) is type(processor), modality
        assert rebuilt.config == processor.config and rebuilt.input_shape == processor.input_shape
    assert make_processor("sensors", options("sensors"), (40, 5)).input_shape == (40, 5)
    assert make_processor("audio_video", options("audio_video"), (9, 9, 3)).input_shape == {
        "audio": (4000 // 100, 100), "video": (3, 6, 7, 1)}
    with pytest.raises(ValueError, match="Unknown preprocessing modality 'smell'"):
        processor_from_config({"modality": "smell"})
