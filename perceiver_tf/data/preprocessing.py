"""Pure-TensorFlow preprocessing from decoded media to model inputs.

Shared by the training pipelines and the serving signatures, so that a model sees exactly the
same transformation in both places. No `tf.py_function` and no tensorflow-io ops: everything
here runs inside a SavedModel loaded by plain TensorFlow.

The model carries its preprocessing as `model.metadata["preprocessing"]`, a JSON dict:

- image: `{"modality": "image", "image_size": [H, W], "channels": C, "scale": s, "offset": o}`;
  model input `(H, W, C)` = `resize(image) * s + o` (uint8 pixels; s = 1/255, o = 0 by default).
- audio: `{"modality": "audio", "sample_rate": R, "num_samples": S, "features": "waveform" |
  "log_mel", "patch_size": P, "num_mel_bins": B, "frame_length": L, "frame_step": H,
  "fft_length": F}`; model input `(S / P, P)` raw-waveform patches, or `(frames, B)` log-mel.
"""

from __future__ import annotations

import math

import tensorflow as tf

IMAGE_DEFAULTS = {"scale": 1.0 / 255.0, "offset": 0.0}
AUDIO_FEATURES = ("waveform", "log_mel")
LOG_MEL_FLOOR = 1e-6


def decode_image(encoded: tf.Tensor, channels: int) -> tf.Tensor:
    """Decode PNG/JPEG/BMP/GIF (first frame) bytes to uint8 `(H, W, channels)`."""
    image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    return image


def image_to_model_input(image: tf.Tensor, config: dict) -> tf.Tensor:
    """uint8/float pixels `(H0, W0, C)` or `(B, H0, W0, C)` -> float32 `(..., H, W, C)` per `config`."""
    height, width = config["image_size"]
    image = tf.image.resize(tf.cast(image, tf.float32), (height, width), antialias=True)
    return image * config.get("scale", IMAGE_DEFAULTS["scale"]) + config.get("offset", IMAGE_DEFAULTS["offset"])


def to_mono(waveform: tf.Tensor) -> tf.Tensor:
    """`(T, channels)` -> `(T,)` by averaging the channels."""
    return tf.reduce_mean(tf.cast(waveform, tf.float32), axis=-1)


def resample(waveform: tf.Tensor, source_rate, target_rate: int, taps: int = 64) -> tf.Tensor:
    """Band-limited resampling of a mono `(T,)` signal in pure TF ops.

    A Hann-windowed sinc low-pass at `min(source, target) / 2` (anti-aliasing), then linear
    interpolation at the target sample times. `source_rate` may be a tensor (from a decoded
    file); equal rates return the input unchanged.
    """
    source_rate = tf.cast(source_rate, tf.float32)
    target = tf.constant(float(target_rate))

    def _resample():
        cutoff = tf.minimum(source_rate, target) / 2.0 / source_rate  # cycles per input sample
        n = tf.range(taps + 1, dtype=tf.float32) - taps / 2.0
        window = 0.5 - 0.5 * tf.cos(2.0 * math.pi * tf.range(taps + 1, dtype=tf.float32) / taps)
        kernel = 2.0 * cutoff * _sinc(2.0 * cutoff * n) * window
        kernel = kernel / tf.reduce_sum(kernel)
        filtered = tf.nn.conv1d(waveform[None, :, None], kernel[:, None, None], stride=1, padding="SAME")[0, :, 0]
        length = tf.shape(waveform)[0]
        out_length = tf.cast(tf.math.floor(tf.cast(length, tf.float32) * target / source_rate), tf.int32)
        times = tf.range(out_length, dtype=tf.float32) * source_rate / target
        left = tf.minimum(tf.cast(tf.floor(times), tf.int32), length - 1)
        right = tf.minimum(left + 1, length - 1)
        frac = times - tf.cast(left, tf.float32)
        return tf.gather(filtered, left) * (1.0 - frac) + tf.gather(filtered, right) * frac

    return tf.cond(tf.equal(source_rate, target), lambda: tf.cast(waveform, tf.float32), _resample)


def _sinc(x: tf.Tensor) -> tf.Tensor:
    safe = tf.where(tf.equal(x, 0.0), tf.ones_like(x), x)
    return tf.where(tf.equal(x, 0.0), tf.ones_like(x), tf.sin(math.pi * safe) / (math.pi * safe))


def fixed_length(values: tf.Tensor, length: int, seed: tf.Tensor | None = None) -> tf.Tensor:
    """Crop or zero-pad `values` `(T, ...)` along the first axis to `length` rows.

    Audio `(T,)`, sensor streams `(T, C)` and video `(T, H, W, C)` alike. The crop is centred,
    or drawn at random from the stateless `seed` (int32 `(2,)`) when given.
    """
    total = tf.shape(values)[0]
    excess = tf.maximum(total - length, 0)
    if seed is not None:
        start = tf.random.stateless_uniform([], seed, 0, excess + 1, dtype=tf.int32)
    else:
        start = excess // 2
    cropped = values[start : start + length]
    padding = [[0, length - tf.shape(cropped)[0]]] + [[0, 0]] * (values.shape.rank - 1)
    return tf.pad(cropped, padding)


def waveform_to_model_input(waveform: tf.Tensor, config: dict) -> tf.Tensor:
    """A mono `(num_samples,)` signal at the model's rate -> the model's audio input.

    `features="waveform"`: `(num_samples / patch_size, patch_size)` patches (the paper's raw
    audio, 61,440 samples -> 480 x 128). `features="log_mel"`: `(frames, num_mel_bins)`.
    """
    features = config.get("features", "waveform")
    if features not in AUDIO_FEATURES:
        raise ValueError(f"Unknown audio features {features!r}. Valid: {', '.join(AUDIO_FEATURES)}")
    if features == "waveform":
        patch = config["patch_size"]
        if config["num_samples"] % patch:
            raise ValueError(
                f"`num_samples` ({config['num_samples']}) must be a multiple of `patch_size` ({patch})."
            )
        return tf.reshape(waveform, (config["num_samples"] // patch, patch))
    stft = tf.signal.stft(
        waveform, frame_length=config["frame_length"], frame_step=config["frame_step"], fft_length=config["fft_length"]
    )
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=config["num_mel_bins"],
        num_spectrogram_bins=config["fft_length"] // 2 + 1,
        sample_rate=config["sample_rate"],
    )
    return tf.math.log(tf.matmul(tf.abs(stft), mel_matrix) + LOG_MEL_FLOOR)


def audio_input_shape(config: dict) -> tuple[int, int]:
    """The model input shape produced by `waveform_to_model_input` for `config`."""
    if config.get("features", "waveform") == "waveform":
        return (config["num_samples"] // config["patch_size"], config["patch_size"])
    frames = 1 + (config["num_samples"] - config["frame_length"]) // config["frame_step"]
    return (frames, config["num_mel_bins"])


def permute_pixels(image: tf.Tensor, config: dict) -> tf.Tensor:
    """Apply the fixed pixel permutation of `config["pixel_permutation_seed"]` (if any).

    The paper's permuted-ImageNet experiment: one permutation of the `H * W` positions, drawn
    once from the seed and applied to every image `(..., H, W, C)`, in training and serving.
    """
    seed = config.get("pixel_permutation_seed")
    if seed is None:
        return image
    height, width = config["image_size"]
    order = tf.random.experimental.stateless_shuffle(tf.range(height * width), seed=[int(seed), 0])
    flat = tf.reshape(image, tf.concat([tf.shape(image)[:-3], [height * width, tf.shape(image)[-1]]], 0))
    return tf.reshape(tf.gather(flat, order, axis=-2), tf.shape(image))


def normalize_points(points: tf.Tensor) -> tf.Tensor:
    """Centre `(P, 3)` xyz on their mean and scale them into the unit sphere.

    The points are first divided by their largest |coordinate|, so that summing (for the mean)
    and squaring (for the radius) cannot overflow float32 however large the finite coordinates.
    """
    largest = tf.reduce_max(tf.abs(points))
    points = points / tf.where(largest > 0.0, largest, 1.0)
    centred = points - tf.reduce_mean(points, axis=0, keepdims=True)
    radius = tf.reduce_max(tf.norm(centred, axis=-1))
    return centred / tf.maximum(radius, 1e-12)


def points_to_model_input(points: tf.Tensor, config: dict) -> tf.Tensor:
    """A cloud `(n, >=3)` -> `(num_points, 3)` model input, deterministically.

    Takes `num_points` evenly spaced points (repeating points when `n < num_points`), then
    `normalize_points`. Training pipelines sample randomly instead; serving uses this.
    """
    num_points = config["num_points"]
    count = tf.shape(points)[0]
    index = tf.cast(tf.floor(tf.linspace(0.0, tf.cast(count, tf.float32), num_points + 1)[:-1]), tf.int32)
    return normalize_points(tf.gather(tf.cast(points[:, :3], tf.float32), tf.minimum(index, count - 1)))
