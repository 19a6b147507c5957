"""Perceiver models: the backbone, the tasks on it (classifier, Perceiver IO), presets and builders."""

from perceiver_tf.models.builders import (
    build_audioset_av,
    build_autoencoder,
    build_classifier,
    build_perceiver_io_imagenet,
)
from perceiver_tf.models.perceiver_backbone import PerceiverBackbone
from perceiver_tf.models.perceiver_classifier import PerceiverClassifier
from perceiver_tf.models.perceiver_io import PerceiverIO
from perceiver_tf.models.perceiver_masked_lm import PerceiverMaskedLM
from perceiver_tf.models.perceiver_optical_flow import PerceiverOpticalFlow, flow_pixel_features
from perceiver_tf.models.perceiver_task import PerceiverTask
from perceiver_tf.models.presets import PRESETS, Preset, get_preset, list_presets

__all__ = [
    "PRESETS",
    "PerceiverBackbone",
    "PerceiverClassifier",
    "PerceiverIO",
    "PerceiverMaskedLM",
    "PerceiverOpticalFlow",
    "PerceiverTask",
    "Preset",
    "build_audioset_av",
    "build_autoencoder",
    "build_classifier",
    "build_perceiver_io_imagenet",
    "get_preset",
    "flow_pixel_features",
    "list_presets",
]
