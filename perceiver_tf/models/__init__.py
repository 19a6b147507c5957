"""Perceiver models: the functional classifier, presets and the builder."""

from perceiver_tf.models.builder import build_classifier
from perceiver_tf.models.input_kinds import INPUT_KINDS
from perceiver_tf.models.perceiver_classifier import PerceiverClassifier
from perceiver_tf.models.presets import PRESETS, Preset, get_preset, list_presets

__all__ = ["INPUT_KINDS", "PRESETS", "PerceiverClassifier", "Preset", "build_classifier", "get_preset", "list_presets"]
