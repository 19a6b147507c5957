"""perceiver_tf: the Perceiver (Jaegle et al., 2021) for Keras 3 / TensorFlow."""

from perceiver_tf.layers import (
    MLP,
    ClassificationHead,
    CrossAttention,
    FlattenIndexDims,
    FourierPositionEncoding,
    LatentTransformer,
    LearnedPositionEncoding,
    PerceiverAttention,
    PerceiverEncoder,
    SelfAttention,
)
from perceiver_tf.models import (
    INPUT_KINDS,
    PRESETS,
    PerceiverClassifier,
    Preset,
    build_classifier,
    get_preset,
    list_presets,
)

__version__ = "0.1.0"

__all__ = [
    "INPUT_KINDS",
    "MLP",
    "PRESETS",
    "ClassificationHead",
    "CrossAttention",
    "FlattenIndexDims",
    "FourierPositionEncoding",
    "LatentTransformer",
    "LearnedPositionEncoding",
    "PerceiverAttention",
    "PerceiverClassifier",
    "PerceiverEncoder",
    "Preset",
    "SelfAttention",
    "__version__",
    "build_classifier",
    "get_preset",
    "list_presets",
]
