"""Audio files -> model inputs: decode, mono, resample, crop/pad, waveform patches or log-mel."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from perceiver_tf.data.formats import as_path
from perceiver_tf.data.preprocessing import (
    AUDIO_FEATURES,
    audio_input_shape,
    fixed_length,
    resample,
    to_mono,
    waveform_to_model_input,
)
from perceiver_tf.data.wav import decode_wav


def _decode_with_tfio(path: bytes) -> tuple[np.ndarray, np.int32]:
    """FLAC/MP3/OGG via tensorflow-io's native readers -> float32 `(T, channels)` in [-1, 1], rate."""
    import tensorflow_io as tfio

    audio = tfio.audio.AudioIOTensor(as_path(path))
    samples = audio.to_tensor().numpy()
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    return samples.astype(np.float32), np.int32(audio.rate.numpy())


class AudioProcessor:
    """Turns audio files into the model's audio input (see `preprocessing.waveform_to_model_input`).

    WAV (8/16/24/32-bit PCM, 32/64-bit float) is decoded by `wav.decode_wav`; FLAC/MP3/OGG by tensorflow-io (training only: the
    saved model's preprocessing is pure TF). Clips are mixed to mono and resampled to
    `sample_rate`, then cropped/padded to `clip_seconds` (random crop in training, centre in
    evaluation).

    Args:
        sample_rate: target rate in Hz.
        clip_seconds: clip length; `num_samples = round(sample_rate * clip_seconds)`.
        features: "log_mel" (default; `(frames, num_mel_bins)`) or "waveform" (raw patches
            `(num_samples / patch_size, patch_size)`, the paper's raw-audio input).
        patch_size / num_mel_bins / frame_length / frame_step / fft_length: feature settings.
    """

    modality = "audio"
    input_kind = "audio"
    bytes_input = "audio_bytes"

    def __init__(
        self,
        sample_rate: int = 16000,
        clip_seconds: float = 1.0,
        features: str = "log_mel",
        patch_size: int = 128,
        num_mel_bins: int = 64,
        frame_length: int = 400,
        frame_step: int = 160,
        fft_length: int = 512,
    ):
        if features not in AUDIO_FEATURES:
            raise ValueError(f"Unknown audio features {features!r}. Valid: {', '.join(AUDIO_FEATURES)}")
        num_samples = int(round(sample_rate * clip_seconds))
        if features == "waveform":
            num_samples -= num_samples % patch_size
        if num_samples < max(patch_size if features == "waveform" else frame_length, 1):
            raise ValueError(
                f"`clip_seconds` * `sample_rate` gives {num_samples} samples, too few for one "
                f"{'patch' if features == 'waveform' else 'frame'}. Received: clip_seconds={clip_seconds}"
            )
        self.config = {
            "modality": "audio", "sample_rate": int(sample_rate), "num_samples": num_samples,
            "features": features, "patch_size": patch_size, "num_mel_bins": num_mel_bins,
            "frame_length": frame_length, "frame_step": frame_step, "fft_length": fft_length,
        }

    @classmethod
    def from_config(cls, config: dict) -> "AudioProcessor":
        """The evaluation-time processor of a model's `metadata["preprocessing"]`."""
        optional = {k: config[k] for k in ("num_mel_bins", "frame_length", "frame_step", "fft_length") if k in config}
        return cls(config["sample_rate"], config["num_samples"] / config["sample_rate"], config.get("features", "waveform"),
                   config.get("patch_size", 128), **optional)

    @property
    def input_shape(self) -> tuple[int, int]:
        return audio_input_shape(self.config)

    def decode_bytes(self, encoded: tf.Tensor) -> tf.Tensor:
        """A WAV file's bytes -> mono float32 `(T,)` at `sample_rate` (pure TF: the serving path)."""
        return self.from_decoded(*decode_wav(encoded))

    def decode_file(self, path: tf.Tensor) -> tf.Tensor:
        """File path -> mono float32 `(T,)` at `sample_rate` (the cacheable form)."""

        def wav():
            return decode_wav(tf.io.read_file(path))

        def other():
            audio, rate = tf.numpy_function(_decode_with_tfio, [path], (tf.float32, tf.int32))
            return tf.ensure_shape(audio, [None, None]), tf.ensure_shape(rate, [])

        is_wav = tf.strings.regex_full_match(tf.strings.lower(path), r".*\.wav")
        audio, rate = tf.cond(is_wav, wav, other)
        return self.from_decoded(audio, rate)

    def from_decoded(self, audio: tf.Tensor, rate) -> tf.Tensor:
        """`(T,)` or `(T, channels)` samples (ints are scaled to [-1, 1]) at `rate` -> mono at `sample_rate`."""
        if audio.dtype.is_integer:
            audio = tf.cast(audio, tf.float32) / float(audio.dtype.max + 1)
        if audio.shape.rank == 1:
            audio = audio[:, None]
        return resample(to_mono(audio), rate, self.config["sample_rate"])

    def prepare(self, waveform: tf.Tensor, training: bool, seed: tf.Tensor) -> tf.Tensor:
        """Cached waveform -> model input; a random crop in training, a centre crop otherwise."""
        cropped = fixed_length(waveform, self.config["num_samples"], seed=seed if training else None)
        return waveform_to_model_input(cropped, self.config)
