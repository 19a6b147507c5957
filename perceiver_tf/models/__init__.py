"""Perceiver models: the functional classifier, presets and the builder."""

from perceiver_tf.models.builder import build_classifier
from perceiver_tf.models.input_kinds import INPUT_KINDS
from perceiver_tf.models.multimodal import MultimodalPerceiver, build_audioset_av
from perceiver_tf.models.perceiver_io import PerceiverIO, build_autoencoder, build_perceiver_io_imagenet
from perceiver_tf.models.perceiver_classifier import PerceiverClassifier
from perceiver_tf.models.presets import PRESETS, Preset, get_preset, list_presets

__all__ = [
    "INPUT_KINDS",
    "PRESETS",
    "MultimodalPerceiver",
    "PerceiverClassifier",
    "PerceiverIO",
    "Preset",
    "build_audioset_av",
    "build_autoencoder",
    "build_classifier",
    "build_perceiver_io_imagenet",
    "get_preset",
    "list_presets",
]
