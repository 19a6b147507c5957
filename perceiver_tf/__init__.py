"""perceiver_tf: the Perceiver (Jaegle et al., 2021) and Perceiver IO for Keras 3 / TensorFlow.

One import path: every public name is imported from its module on first use (PEP 562, the same
`lazy_exports` as the subpackages), so `import perceiver_tf` and `perceiver-tf --help` load neither
Keras nor TensorFlow until a name needs them. perceiver_tf's classes are registered for Keras
deserialisation as soon as Keras is imported (`keras_registration`): after `import perceiver_tf`,
`keras.saving.load_model` reads perceiver_tf models. TensorFlow's native log lines (its start-up
lines, C++ warnings such as a failed file read's `NOT_FOUND` beside the Python error) stay out of
the terminal, unless `TF_CPP_MIN_LOG_LEVEL` was set before perceiver_tf's import: then it decides.
"""

import os as _os

from perceiver_tf.import_hooks import wrap_first_import as _wrap_first_import
from perceiver_tf.keras_registration import register_when_keras_is_imported as _register_when_keras_is_imported
from perceiver_tf.lazy_exports import lazy_exports as _lazy_exports
from perceiver_tf.native_log import quiet_tensorflow_import as _quiet_tensorflow_import

if "TF_CPP_MIN_LOG_LEVEL" not in _os.environ:
    _os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # read once, when TensorFlow loads: errors only
    _wrap_first_import("tensorflow", _quiet_tensorflow_import)  # absl's start-up lines ignore the level

__version__ = "0.2.0"

_all, _getattr, __dir__ = _lazy_exports(__name__, {
    "adapters": ("ADAPTERS", "ArrayAdapter", "AudioAdapter", "GridAdapter", "ImageAdapter", "InputAdapter",
                 "PointsAdapter", "SequenceAdapter", "TextAdapter", "VideoAdapter", "make_adapter"),
    "data.byte_tokenizer": ("ByteTokenizer",),
    "errors": ("OptionError", "PerceiverError"),
    "layers": ("MLP", "ClassificationDecoder", "ClassificationHead", "ConvDownsample", "CrossAttention",
               "ExtractPatches", "FlattenIndexDims", "FourierPositionEncoding", "LatentTransformer", "LayerNorm",
               "LearnedPositionEncoding", "ModalityPadding", "OutputQueries", "PerceiverAttention", "PerceiverDecoder",
               "PerceiverEncoder", "SelfAttention"),
    "metrics": ("mean_average_precision",),
    "models": ("PRESETS", "PerceiverBackbone", "PerceiverClassifier", "PerceiverIO", "PerceiverMaskedLM",
               "PerceiverOpticalFlow", "PerceiverTask", "Preset", "build_audioset_av", "build_autoencoder",
               "build_classifier", "build_perceiver_io_imagenet", "flow_pixel_features", "get_preset",
               "list_presets"),
    "models.preprocessor": ("AudioPreprocessor", "AudioVideoPreprocessor", "ImagePreprocessor", "PointsPreprocessor",
                            "Preprocessor", "SensorPreprocessor"),
    "training.losses": ("ClassAccuracy", "ClassCrossentropy"),
    "workflows.attention": ("plot_attention",),
    "workflows.evaluate": ("evaluate",),
    "workflows.export": ("export_model",),
    "workflows.model_files": ("load_model",),
    "workflows.options": ("TrainOptions",),
    "workflows.predict": ("predict",),
    "workflows.train": ("TrainRun", "train"),
})
__all__ = [*_all, "__version__"]
_register_when_keras_is_imported()


def __getattr__(name: str):
    """A public name, imported from its module; an ImportError of Keras' backend says what to install."""
    from perceiver_tf.backend_support import backend_import_error

    try:
        return _getattr(name)
    except ImportError as error:
        raise backend_import_error(error) from error
