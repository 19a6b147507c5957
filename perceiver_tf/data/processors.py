"""Every data modality's processor, built from the training options or from a model's metadata.

A processor turns one file (or encoded bytes) into the model input, the same way in training,
`perceiver-tf evaluate / predict / attention` and the exported serving graph:
`decode_file(path)` / `decode_bytes(bytes)` -> a cacheable decoded form -> `prepare(x, training, seed)`.
Its `config` is saved as `model.metadata["preprocessing"]`; `processor_from_config` rebuilds it.
"""

from __future__ import annotations

from perceiver_tf.data.audio import AudioProcessor
from perceiver_tf.data.audio_video import AudioVideoProcessor
from perceiver_tf.data.images import ImageProcessor
from perceiver_tf.data.points import PointsProcessor
from perceiver_tf.data.sensors_processor import SensorProcessor
from perceiver_tf.data.video import VideoProcessor

#: `config["modality"]` -> processor class.
PROCESSORS = {cls.modality: cls for cls in (ImageProcessor, AudioProcessor, PointsProcessor, SensorProcessor,
                                            VideoProcessor, AudioVideoProcessor)}


def processor_from_config(config: dict):
    """The evaluation-time processor of a model's `metadata["preprocessing"]`.

    Raises:
        ValueError: a config without a known "modality".
    """
    modality = config.get("modality") if isinstance(config, dict) else None
    if modality not in PROCESSORS:
        raise ValueError(f"Unknown preprocessing modality {modality!r}. Valid: {', '.join(PROCESSORS)}")
    return PROCESSORS[modality].from_config(config)
