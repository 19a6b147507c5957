"""`Preprocessor`: the preprocessing a task owns, as a Keras layer saved in its `.keras` file.

KerasHub's pattern: a task holds its `preprocessor` (`model.preprocessor`), so the way a model's
examples are prepared is stored with the model, once, and every reader uses the same object:
training and evaluation data (`perceiver_tf.train`, `evaluate`), `predict` on files and arrays,
the SavedModel's `serving_bytes` graph and fine-tuning (`init_from`). The layer is built from the
processor config of `perceiver_tf.data.processors` (what `model.metadata["preprocessing"]` shows)
and prepares one example at a time as the evaluation pipeline does (no augmentation):

    model.preprocessor(image_uint8)        # (H, W, C) uint8, any size -> (h, w, c) float32 model input
    model.preprocessor.from_file(path)     # a file, decoded as in training

One subclass per modality (its docstring says what it takes). The processors that do the work live
in `perceiver_tf.data` and are imported when the first example is prepared, not when a model is
loaded (they need TensorFlow; a JAX-backend model loads without it).
"""

from __future__ import annotations

import keras

from perceiver_tf.layers.common import register


@register
class Preprocessor(keras.layers.Layer):
    """Decoded examples (or files) -> model inputs, as the model's evaluation data was prepared.

    Args:
        config: the processor config (`perceiver_tf.data.processors`), e.g. `{"modality": "image",
            "image_size": [8, 8], "channels": 1, ...}`.

    Raises:
        ValueError: a config of another modality than the subclass's.
    """

    #: The modality of `config["modality"]` this subclass prepares (`None`: the base class, any).
    modality: str | None = None

    def __init__(self, config: dict, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if self.modality is not None and config.get("modality") != self.modality:
            raise ValueError(f"{type(self).__name__} prepares {self.modality} examples; the config is for "
                             f"{config.get('modality')!r}.")
        self._config = dict(config)
        self._processor = None

    @property
    def config(self) -> dict:
        """The processor config (a copy): what `model.metadata["preprocessing"]` holds."""
        return dict(self._config)

    @property
    def processor(self):
        """The evaluation-time processor of `config` (built on first use: it imports TensorFlow)."""
        if self._processor is None:
            from perceiver_tf.data.processors import processor_from_config

            self._processor = processor_from_config(self._config)
        return self._processor

    def __call__(self, example, sample_rate: int | None = None):
        """`call`, without Keras' symbolic-call machinery (this layer prepares examples before a model,
        never inside a graph of layers): errors reach the caller as the one-line `ValueError`s they are."""
        return self.call(example, sample_rate)

    def call(self, example, sample_rate: int | None = None):
        """One decoded example -> its model input `(*input_shape)` (a dict per input for several).

        Raises:
            ValueError: an array this modality cannot take, naming what it takes.
        """
        import numpy as np

        from perceiver_tf.data.model_inputs import model_input_from_array

        return model_input_from_array(self.processor, np.asarray(example), sample_rate)

    def from_file(self, path):
        """One file (a path or string tensor; a clip folder for audio + video) -> its model input."""
        import tensorflow as tf

        from perceiver_tf.data.model_inputs import model_input_from_file

        return model_input_from_file(self.processor, tf.constant(str(path)) if not tf.is_tensor(path) else path)

    def get_config(self) -> dict:
        return {**super().get_config(), "config": self.config}


@register
class ImagePreprocessor(Preprocessor):
    """uint8 images `(H, W[, C])` of any size (or image files) -> `(h, w, c)` float32 model inputs
    (centre crop, resize, scale; the pixel permutation where the model was trained with one)."""

    modality = "image"


@register
class AudioPreprocessor(Preprocessor):
    """Waveforms `(T[, C])` in [-1, 1] at `sample_rate` (default the model's; or audio files) ->
    the model's log-mel frames or waveform patches of a centre-cropped clip."""

    modality = "audio"


@register
class PointsPreprocessor(Preprocessor):
    """Point clouds `(n, 3)` of raw coordinates (or point files) -> `(num_points, 3 + features)`:
    centred, scaled into the unit sphere, aligned and described as in training."""

    modality = "points"


@register
class SensorPreprocessor(Preprocessor):
    """Sensor recordings `(T, C)` (or CSV / NPY files) -> `(num_steps, C)`: cropped or zero-padded
    in time, centred where the model was trained so; with `mask_padding` (models trained since step
    masks exist) `{"inputs": (num_steps, C), "input_mask": bool (num_steps,)}`, True on real steps."""

    modality = "sensors"


@register
class AudioVideoPreprocessor(Preprocessor):
    """Clip folders (a WAV file and video frames) -> `{"audio", "video"}` model inputs."""

    modality = "audio_video"


#: `config["modality"]` -> its preprocessor class.
PREPROCESSORS = {cls.modality: cls for cls in (ImagePreprocessor, AudioPreprocessor, PointsPreprocessor,
                                               SensorPreprocessor, AudioVideoPreprocessor)}


def preprocessor_from_config(config: dict) -> Preprocessor:
    """The `Preprocessor` subclass of `config["modality"]` built from `config` (a processor config).

    Raises:
        ValueError: a config without a known modality.
    """
    modality = config.get("modality") if isinstance(config, dict) else None
    if modality not in PREPROCESSORS:
        raise ValueError(f"Unknown preprocessing modality {modality!r}. Valid: {', '.join(PREPROCESSORS)}")
    return PREPROCESSORS[modality](config)
