"""Audio + video examples: one folder per clip holding its sound file and its frames (or `.npy` video).

Layout of a data folder `root`:

    root/<class>/<clip>/audio.wav         any one .wav/.flac/.mp3/.ogg/.opus file
    root/<class>/<clip>/0000.png ...      the frames, sorted by name (or one video.npy (T, H, W[, C]))

Each example is `{"audio": ..., "video": ...}`, the inputs of a two-adapter `PerceiverBackbone`.
"""

from __future__ import annotations

import tensorflow as tf

from perceiver_tf.data.audio import AudioProcessor
from perceiver_tf.data.formats import EXTENSIONS
from perceiver_tf.data.video import VideoProcessor

_AUDIO_PATTERN = r".*\.(" + "|".join(e.lstrip(".") for e in EXTENSIONS["audio"]) + ")"


def audio_file(example_dir: tf.Tensor) -> tf.Tensor:
    """The (first, by name) audio file of an example folder."""
    files = tf.io.matching_files(tf.strings.join([example_dir, "/*"]))  # sorted by name (the op sorts)
    audio = tf.boolean_mask(files, tf.strings.regex_full_match(tf.strings.lower(files), _AUDIO_PATTERN))
    tf.debugging.assert_positive(tf.size(audio), message="an example folder has no audio file")
    return audio[0]


class AudioVideoProcessor:
    """Pairs an `AudioProcessor` and a `VideoProcessor`: one example folder -> `{"audio", "video"}` inputs.

    Args:
        audio: how the sound is turned into the "audio" input.
        video: how the frames are turned into the "video" input.
    """

    modality = "audio_video"
    input_kind = {"audio": "audio", "video": "video"}
    bytes_input = None

    def __init__(self, audio: AudioProcessor, video: VideoProcessor):
        self.audio, self.video = audio, video
        self.config = {"modality": "audio_video", "audio": audio.config, "video": video.config}

    def with_options(self, options) -> "AudioVideoProcessor":
        """Itself: every clip option is applied when the clips are read (`make_processor`)."""
        return self

    @classmethod
    def from_config(cls, config: dict) -> "AudioVideoProcessor":
        return cls(AudioProcessor.from_config(config["audio"]), VideoProcessor.from_config(config["video"]))

    @property
    def input_shape(self) -> dict[str, tuple]:
        return {"audio": self.audio.input_shape, "video": self.video.input_shape}

    def decode_file(self, example_dir: tf.Tensor) -> dict[str, tf.Tensor]:
        """An example folder -> `{"audio": (T,) at the model's rate, "video": (T, H, W, C)}` (cacheable)."""
        return {"audio": self.audio.decode_file(audio_file(example_dir)), "video": self.video.decode_file(example_dir)}

    def prepare(self, example: dict, training: bool, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        seeds = tf.random.experimental.stateless_split(seed, 2)
        return {"audio": self.audio.prepare(example["audio"], training, seeds[0]),
                "video": self.video.prepare(example["video"], training, seeds[1])}
