"""The public API of perceiver_tf in one namespace (imported by `perceiver_tf/__init__.py`).

Importing it imports TensorFlow and Keras and registers every perceiver_tf class for Keras
serialisation.
"""

try:
    import tensorflow  # noqa: F401
except ImportError as error:  # TensorFlow is an extra: CPU and GPU builds are different packages.
    raise ImportError(
        "perceiver_tf needs TensorFlow 2.16: pip install 'perceiver_tf[cpu]' (CPU) or "
        "'perceiver_tf[gpu]' (NVIDIA GPU), or pip install -r requirements.txt"
    ) from error

from perceiver_tf.adapters import (
    ADAPTERS,
    ArrayAdapter,
    AudioAdapter,
    GridAdapter,
    ImageAdapter,
    InputAdapter,
    PointsAdapter,
    SequenceAdapter,
    TextAdapter,
    VideoAdapter,
    make_adapter,
)
from perceiver_tf.data.byte_tokenizer import ByteTokenizer
from perceiver_tf.layers import (
    MLP,
    ClassificationDecoder,
    ClassificationHead,
    ConvDownsample,
    CrossAttention,
    ExtractPatches,
    FlattenIndexDims,
    FourierPositionEncoding,
    LatentTransformer,
    LearnedPositionEncoding,
    ModalityPadding,
    OutputQueries,
    PerceiverAttention,
    PerceiverDecoder,
    PerceiverEncoder,
    SelfAttention,
)
from perceiver_tf.metrics import mean_average_precision
from perceiver_tf.models import (
    PRESETS,
    PerceiverBackbone,
    PerceiverClassifier,
    PerceiverIO,
    PerceiverMaskedLM,
    PerceiverOpticalFlow,
    PerceiverTask,
    Preset,
    build_audioset_av,
    build_autoencoder,
    build_classifier,
    build_perceiver_io_imagenet,
    flow_pixel_features,
    get_preset,
    list_presets,
)

__all__ = [
    "ADAPTERS",
    "MLP",
    "PRESETS",
    "ArrayAdapter",
    "ByteTokenizer",
    "AudioAdapter",
    "ClassificationDecoder",
    "ClassificationHead",
    "ConvDownsample",
    "CrossAttention",
    "ExtractPatches",
    "FlattenIndexDims",
    "FourierPositionEncoding",
    "GridAdapter",
    "ImageAdapter",
    "InputAdapter",
    "LatentTransformer",
    "LearnedPositionEncoding",
    "ModalityPadding",
    "OutputQueries",
    "PerceiverAttention",
    "PerceiverBackbone",
    "PerceiverClassifier",
    "PerceiverDecoder",
    "PerceiverEncoder",
    "PerceiverIO",
    "PerceiverMaskedLM",
    "PerceiverOpticalFlow",
    "PerceiverTask",
    "PointsAdapter",
    "Preset",
    "SelfAttention",
    "SequenceAdapter",
    "TextAdapter",
    "VideoAdapter",
    "build_audioset_av",
    "build_autoencoder",
    "build_classifier",
    "build_perceiver_io_imagenet",
    "flow_pixel_features",
    "get_preset",
    "list_presets",
    "make_adapter",
    "mean_average_precision",
]
