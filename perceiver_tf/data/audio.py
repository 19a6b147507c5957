"""Audio files -> model inputs: decode, mono, resample, crop/pad, waveform patches or log-mel."""

from __future__ import annotations

import tensorflow as tf

from perceiver_tf.data.audio_decoders import decode_compressed_audio, decoder_problem
from perceiver_tf.data.preprocessing import (
    AUDIO_FEATURES,
    audio_input_shape,
    fixed_length,
    resample,
    to_mono,
    waveform_to_model_input,
)
from perceiver_tf.data.wav import decode_wav


class AudioProcessor:
    """Turns audio files into the model's audio input (see `preprocessing.waveform_to_model_input`).

    WAV (8/16/24/32-bit PCM, 32/64-bit float) is decoded by `wav.decode_wav` (pure TF: the saved
    model's preprocessing); FLAC/MP3/OGG by `audio_decoders.decode_compressed_audio` (soundfile, or
    tensorflow-io where its ops load) when files are read. Clips are mixed to mono and resampled to
    `sample_rate`, then cropped/padded to `clip_seconds` (random crop in training, centre in
    evaluation).

    Args:
        sample_rate: target rate in Hz.
        clip_seconds: clip length; `num_samples = round(sample_rate * clip_seconds)`.
        features: "log_mel" (default; `(frames, num_mel_bins)`) or "waveform" (raw patches
            `(num_samples / patch_size, patch_size)`, the paper's raw-audio input).
        patch_size / num_mel_bins / frame_length / frame_step / fft_length: feature settings.
        normalize: standardise each clip's log-mel features (zero mean, unit variance): loudness and
            recording level then carry no weight.
        time_shift: in training, move the clip by up to this fraction of its length either way
            (zero-padded), or 0.
        gain_db: in training, scale the waveform by a random gain of up to this many dB either way, or 0.
        frequency_warp: log-mel only, in training: stretch the spectrum along frequency by a random
            factor in `[1 - w, 1 + w]` (vocal-tract length perturbation, Jaitly & Hinton 2013), or 0.
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
        normalize: bool = False,
        time_shift: float = 0.0,
        gain_db: float = 0.0,
        frequency_warp: float = 0.0,
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
        if normalize:
            if features != "log_mel":
                raise ValueError("`normalize` standardises log-mel features: use features='log_mel'.")
            self.config["normalize"] = True
        if frequency_warp and features != "log_mel":
            raise ValueError("`frequency_warp` stretches log-mel spectra: use features='log_mel'.")
        if not (0.0 <= time_shift < 1.0 and gain_db >= 0.0 and 0.0 <= frequency_warp < 1.0):
            raise ValueError("`time_shift` and `frequency_warp` must be in [0, 1) and `gain_db` >= 0. Received: "
                             f"time_shift={time_shift}, gain_db={gain_db}, frequency_warp={frequency_warp}")
        self.time_shift, self.gain_db, self.frequency_warp = float(time_shift), float(gain_db), float(frequency_warp)

    @classmethod
    def from_config(cls, config: dict, **augmentation) -> "AudioProcessor":
        """The processor of a model's `metadata["preprocessing"]`, with the training `augmentation`
        (`time_shift`, `gain_db`, `frequency_warp`) or, without, for evaluation."""
        optional = {k: config[k] for k in ("num_mel_bins", "frame_length", "frame_step", "fft_length", "normalize")
                    if k in config}
        return cls(config["sample_rate"], config["num_samples"] / config["sample_rate"], config.get("features", "waveform"),
                   config.get("patch_size", 128), **optional, **augmentation)

    def with_options(self, options) -> "AudioProcessor":
        """This processor with a run's `DataOptions` (the recipe's choices filled in): per-clip
        normalisation (preprocessing, saved with the model) and the augmentations."""
        config = {**self.config, **({"normalize": True} if options.normalize_audio else {})}
        return AudioProcessor.from_config(config, time_shift=options.time_shift, gain_db=options.gain_db,
                                          frequency_warp=options.frequency_warp)

    @property
    def input_shape(self) -> tuple[int, int]:
        return audio_input_shape(self.config)

    def decode_bytes(self, encoded: tf.Tensor) -> tf.Tensor:
        """A WAV file's bytes -> mono float32 `(T,)` at `sample_rate` (pure TF: the serving path)."""
        return self.from_decoded(*decode_wav(encoded))

    def decode_file(self, path: tf.Tensor) -> tf.Tensor:
        """File path -> mono float32 `(T,)` at `sample_rate` (the cacheable form)."""
        decoder_problem("soundfile")  # imported here while tracing, not first in a tf.data worker thread

        def wav():
            return decode_wav(tf.io.read_file(path))

        def other():
            audio, rate = tf.numpy_function(decode_compressed_audio, [path], (tf.float32, tf.int32))
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
        """Cached waveform -> model input; a random crop and the augmentations in training, a centre crop
        otherwise."""
        num_samples = self.config["num_samples"]
        if not training:
            return waveform_to_model_input(fixed_length(waveform, num_samples), self.config)
        seeds = tf.random.experimental.stateless_split(seed, 3)
        shift = int(self.time_shift * num_samples)
        if shift:  # padding both ends lets the random crop move the clip by up to `shift` either way
            waveform = tf.pad(waveform, [[shift, shift]])
        waveform = fixed_length(waveform, num_samples, seed=seeds[0])
        if self.gain_db:
            waveform = waveform * 10.0 ** (tf.random.stateless_uniform([], seeds[1], -self.gain_db, self.gain_db) / 20.0)
        scale = None
        if self.frequency_warp:
            scale = tf.random.stateless_uniform([], seeds[2], 1.0 - self.frequency_warp, 1.0 + self.frequency_warp)
        return waveform_to_model_input(waveform, self.config, frequency_scale=scale)
