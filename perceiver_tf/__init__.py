"""perceiver_tf: the Perceiver (Jaegle et al., 2021) for Keras 3 / TensorFlow."""

try:
    import tensorflow  # noqa: F401
except ImportError as error:  # TensorFlow is an extra: CPU and GPU builds are different packages.
    raise ImportError(
        "perceiver_tf needs TensorFlow 2.16: pip install 'perceiver_tf[cpu]' (CPU) or "
        "'perceiver_tf[gpu]' (NVIDIA GPU), or pip install -r requirements.txt"
    ) from error

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
from perceiver_tf.layers import ExtractPatches, ModalityPadding, OutputQueries, PerceiverDecoder
from perceiver_tf.metrics import mean_average_precision
from perceiver_tf.models import (
    MultimodalPerceiver,
    PerceiverIO,
    build_audioset_av,
    build_autoencoder,
    build_perceiver_io_imagenet,
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
    "ExtractPatches",
    "ModalityPadding",
    "MultimodalPerceiver",
    "OutputQueries",
    "PerceiverDecoder",
    "PerceiverIO",
    "build_audioset_av",
    "build_autoencoder",
    "build_perceiver_io_imagenet",
    "mean_average_precision",
    "__version__",
    "build_classifier",
    "get_preset",
    "list_presets",
]
