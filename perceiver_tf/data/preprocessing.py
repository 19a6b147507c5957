"""Pure-TensorFlow preprocessing from decoded media to model inputs.

Shared by the training pipelines and the serving signatures, so that a model sees exactly the
same transformation in both places. No `tf.py_function` and no tensorflow-io ops: everything
here runs inside a SavedModel loaded by plain TensorFlow.

The model carries its preprocessing as `model.metadata["preprocessing"]`, a JSON dict:

- image: `{"modality": "image", "image_size": [H, W], "channels": C, "scale": s, "offset": o}`, optionally
  with `"crop_fraction": f` and `"resize_method": "bilinear" | "bicubic"`; model input `(H, W, C)` =
  `resize(crop(image)) * s + o` on uint8 pixels. `crop` takes the centred square of side
  `floor(f * min(H0, W0))` (absent: no crop); `resize` is antialiased bilinear (the default) or
  antialiased bicubic (clipped to 0-255 and rounded, as PIL resizes 8-bit images); `s` and `o` are
  scalars (s = 1/255, o = 0 by default) or lists of C per-channel values. `imagenet_preprocessing()`
  is the config of DeepMind's ImageNet Perceivers (transformers' `PerceiverImageProcessor`).
- audio: `{"modality": "audio", "sample_rate": R, "num_samples": S, "features": "waveform" |
  "log_mel", "patch_size": P, "num_mel_bins": B, "frame_length": L, "frame_step": H,
  "fft_length": F}`, optionally with `"normalize": true` (log-mel standardised per clip); model input
  `(S / P, P)` raw-waveform patches, or `(frames, B)` log-mel.
- points: `{"modality": "points", "num_points": P}`, optionally with `"align": "pca"` and
  `"local_geometry": k`; model input `(P, 3)` xyz centred inside the unit sphere (`points_to_model_input`),
  in principal-axis frame with "pca"; with local geometry `(P, 9)`: xyz, then each point's linearity,
  planarity, scattering and |normal| over its k nearest neighbours in the whole cloud (`local_geometry`).
"""

from __future__ import annotations

import math

import tensorflow as tf

from perceiver_tf.layers.pixel_permutation import pixel_permutation

IMAGE_DEFAULTS = {"scale": 1.0 / 255.0, "offset": 0.0}
RESIZE_METHODS = ("bilinear", "bicubic")
#: Per-channel RGB mean and std of ImageNet (pixels in [0, 1]), as DeepMind's and transformers' Perceivers use them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
AUDIO_FEATURES = ("waveform", "log_mel")
LOG_MEL_FLOOR = 1e-6


def decode_image(encoded: tf.Tensor, channels: int) -> tf.Tensor:
    """Decode PNG/JPEG/BMP/GIF (first frame) bytes to uint8 `(H, W, channels)`."""
    image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    return image


def imagenet_preprocessing(image_size: int = 224, crop_fraction: float = 224 / 256) -> dict:
    """The image preprocessing config of DeepMind's ImageNet Perceivers (transformers' `PerceiverImageProcessor`).

    Centre crop of `crop_fraction` of the shorter side, bicubic resize to `image_size` x `image_size`,
    then `(pixel / 255 - IMAGENET_MEAN) / IMAGENET_STD` per RGB channel: model input `(S, S, 3)`.
    """
    config = {
        "modality": "image",
        "image_size": [int(image_size), int(image_size)],
        "channels": 3,
        "scale": [1.0 / (255.0 * std) for std in IMAGENET_STD],
        "offset": [-mean / std for mean, std in zip(IMAGENET_MEAN, IMAGENET_STD)],
        "crop_fraction": crop_fraction,
        "resize_method": "bicubic",
    }
    check_image_config(config)
    return config


def check_image_config(config: dict) -> None:
    """Raise a one-line ValueError for an invalid `crop_fraction`, `resize_method`, `scale` or `offset`."""
    fraction = config.get("crop_fraction")
    if fraction is not None and (not _is_number(fraction) or not 0.0 < fraction <= 1.0):
        raise ValueError(f"`crop_fraction` must be a number in (0, 1] (or absent: no crop). Received: {fraction!r}")
    method = config.get("resize_method", "bilinear")
    if method not in RESIZE_METHODS:
        raise ValueError(f"Unknown `resize_method` {method!r}. Valid: {', '.join(RESIZE_METHODS)}")
    channels = config.get("channels")
    for key in ("scale", "offset"):
        value = config.get(key, IMAGE_DEFAULTS[key])
        if not isinstance(value, (list, tuple)):
            continue
        if len(value) != channels or not all(_is_number(v) and math.isfinite(v) for v in value):
            raise ValueError(f"`{key}` must be one number or a list of {channels} finite numbers (one per channel). "
                             f"Received: {value!r}")
        if key == "scale" and 0 in value:
            raise ValueError(f"A per-channel `scale` must not hold 0. Received: {value!r}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def center_crop(image: tf.Tensor, fraction: float) -> tf.Tensor:
    """The centred square of side `floor(fraction * min(H0, W0))` (at least 1) of `(..., H0, W0, C)` pixels.

    The offsets are `(H0 - side) // 2` and `(W0 - side) // 2`, as transformers' `center_crop`.
    """
    height, width = tf.shape(image)[-3], tf.shape(image)[-2]
    shorter = tf.cast(tf.minimum(height, width), tf.float64)  # float64: `int(fraction * n)` as Python computes it
    side = tf.maximum(tf.cast(tf.floor(shorter * fraction), tf.int32), 1)
    top, left = (height - side) // 2, (width - side) // 2
    return image[..., top : top + side, left : left + side, :]


def image_to_model_input(image: tf.Tensor, config: dict) -> tf.Tensor:
    """uint8/float pixels `(H0, W0, C)` or `(B, H0, W0, C)` -> float32 `(..., H, W, C)` per `config`.

    Optional centre crop (`crop_fraction`), resize (`resize_method`), then `* scale + offset`
    (scalars, or per-channel lists broadcast over the last axis).
    """
    check_image_config(config)
    image = tf.cast(image, tf.float32)
    if config.get("crop_fraction") is not None:
        image = center_crop(image, config["crop_fraction"])
    size = config["image_size"]
    if config.get("resize_method", "bilinear") == "bicubic":
        image = tf.image.resize(image, size, method="bicubic", antialias=True)
        image = tf.floor(tf.clip_by_value(image, 0.0, 255.0) + 0.5)  # PIL's 8-bit result: clipped, rounded
    else:
        image = tf.image.resize(image, size, antialias=True)
    scale, offset = (config.get(key, IMAGE_DEFAULTS[key]) for key in ("scale", "offset"))
    return image * _per_channel(scale) + _per_channel(offset)


def channel_values(config: dict) -> tuple[list[float], list[float]]:
    """`(scales, offsets)` of an image / frame config, one value per channel (scalars repeated)."""
    channels = config.get("channels", 1)
    return tuple(value if isinstance(value, list) else [value] * channels
                 for value in (config.get(key, IMAGE_DEFAULTS[key]) for key in ("scale", "offset")))


def pixel_range(config: dict) -> tuple[float, float]:
    """`(low, high)` of the model-input values that 8-bit pixels map to under `config`, over every channel."""
    ends = [end for scale, offset in zip(*channel_values(config)) for end in (offset, offset + 255 * scale)]
    return min(ends), max(ends)


def _per_channel(value):
    """A scalar as is; a per-channel list as a float32 `(C,)` tensor (broadcast over `(..., C)`)."""
    return tf.constant(value, tf.float32) if isinstance(value, (list, tuple)) else value


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


def waveform_to_model_input(waveform: tf.Tensor, config: dict, frequency_scale: tf.Tensor | None = None) -> tf.Tensor:
    """A mono `(num_samples,)` signal at the model's rate -> the model's audio input.

    `features="waveform"`: `(num_samples / patch_size, patch_size)` patches (the paper's raw
    audio, 61,440 samples -> 480 x 128). `features="log_mel"`: `(frames, num_mel_bins)`, standardised
    per clip (zero mean, unit variance over all its values) when `config["normalize"]` is true.

    Args:
        frequency_scale: log-mel only, training augmentation: a scalar that stretches the linear
            spectrum along frequency before the mel filters (vocal-tract length perturbation: > 1
            moves every component up in frequency), or `None`.
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
    magnitude = tf.abs(stft)
    if frequency_scale is not None:
        magnitude = stretch_frequencies(magnitude, frequency_scale)
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=config["num_mel_bins"],
        num_spectrogram_bins=config["fft_length"] // 2 + 1,
        sample_rate=config["sample_rate"],
    )
    log_mel = tf.math.log(tf.matmul(magnitude, mel_matrix) + LOG_MEL_FLOOR)
    if config.get("normalize", False):
        mean, variance = tf.nn.moments(log_mel, axes=[0, 1])
        log_mel = (log_mel - mean) * tf.math.rsqrt(variance + 1e-6)
    return log_mel


def stretch_frequencies(magnitude: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
    """A spectrogram `(frames, bins)` with every frequency multiplied by `scale` (linear interpolation
    between bins; components moved above the top bin are dropped, bins with no source are 0)."""
    bins = tf.shape(magnitude)[-1]
    source = tf.range(bins, dtype=tf.float32) / scale
    low = tf.minimum(tf.cast(tf.floor(source), tf.int32), bins - 1)
    high = tf.minimum(low + 1, bins - 1)
    weight = source - tf.cast(low, tf.float32)
    stretched = (1.0 - weight) * tf.gather(magnitude, low, axis=-1) + weight * tf.gather(magnitude, high, axis=-1)
    return tf.where(source <= tf.cast(bins - 1, tf.float32), stretched, 0.0)


def audio_input_shape(config: dict) -> tuple[int, int]:
    """The model input shape produced by `waveform_to_model_input` for `config`."""
    if config.get("features", "waveform") == "waveform":
        return (config["num_samples"] // config["patch_size"], config["patch_size"])
    frames = 1 + (config["num_samples"] - config["frame_length"]) // config["frame_step"]
    return (frames, config["num_mel_bins"])


def permute_pixels(image: tf.Tensor, config: dict) -> tf.Tensor:
    """Apply the fixed pixel permutation of `config["pixel_permutation_seed"]` (if any).

    The paper's permuted-ImageNet experiment: one permutation of the `H * W` positions, drawn
    once from the seed and applied to every image `(..., H, W, C)`, in training and serving. A
    model built with the same `pixel_permutation_seed` (`ImageAdapter`) permutes its position
    features alike, so each pixel keeps the features of where it came from.
    """
    seed = config.get("pixel_permutation_seed")
    if seed is None:
        return image
    height, width = config["image_size"]
    order = pixel_permutation(height * width, seed)
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


#: `config["align"]` values of point clouds: "none" (as given) or "pca" (`pca_align`).
POINT_ALIGNMENTS = ("none", "pca")


def principal_frame(points: tf.Tensor) -> tf.Tensor:
    """The `(3, 3)` rotation (or reflection) `R` that puts centred `(P, 3)` points into their principal
    axes: column k is the k-th principal axis (largest variance first), its sign chosen so that the
    third moment of the projections `points @ R` is non-negative."""
    covariance = tf.matmul(points, points, transpose_a=True) / tf.cast(tf.shape(points)[0], points.dtype)
    _, vectors = tf.linalg.eigh(covariance)  # ascending eigenvalues
    vectors = tf.reverse(vectors, [1])
    signs = tf.where(tf.reduce_sum(tf.matmul(points, vectors) ** 3, axis=0) < 0.0, -1.0, 1.0)
    return vectors * tf.cast(signs, vectors.dtype)


def sampled_principal_frame(points: tf.Tensor, fraction: float, seed: tf.Tensor) -> tf.Tensor:
    """`principal_frame` of a random `fraction` of centred `(P, 3)` points (at least 3; `seed`: a stateless
    seed `(2,)`). Axes of clearly different variance come out as from all points; axes of near-equal
    variance, which the cloud leaves uncertain, turn from one sample to the next (half the points
    estimate that uncertainty as a bootstrap does)."""
    count = tf.shape(points)[0]
    keep = tf.minimum(count, tf.maximum(3, tf.cast(tf.cast(count, tf.float32) * fraction, tf.int32)))
    chosen = tf.random.experimental.stateless_shuffle(tf.range(count), seed)[:keep]
    return principal_frame(tf.gather(points, chosen))


def pca_align(points: tf.Tensor) -> tf.Tensor:
    """Rotate centred `(P, 3)` points into their principal axes (`principal_frame`): a pose-free
    canonical frame, which does not depend on the cloud's rotation (up to shapes symmetric about an
    axis, where any sign is one)."""
    return tf.matmul(points, principal_frame(points))


#: Local-geometry features per point (`local_geometry`): linearity, planarity, scattering, and the
#: three components of the surface normal.
LOCAL_GEOMETRY_FEATURES = 6
#: The fewest neighbours `local_geometry` takes (the point itself and two more span a surface patch).
MIN_GEOMETRY_NEIGHBORS = 3
#: Local geometry is computed over at most this many points of a cloud (evenly spaced; pairwise
#: distances: memory grows with its square).
MAX_GEOMETRY_POINTS = 2048


def local_geometry(points: tf.Tensor, neighbors: int) -> tf.Tensor:
    """`(P, 3)` points -> `(P, 6)` features of each point's `neighbors` nearest points (itself included).

    From the eigenvalues l1 >= l2 >= l3 of the neighbourhood's covariance: linearity (l1 - l2) / l1,
    planarity (l2 - l3) / l1 and scattering l3 / l1 (each in [0, 1], summing to 1; invariant to rotation,
    translation and scale: an edge, a face, a curved or noisy patch); then the unit normal n (the
    eigenvector of l3, sign arbitrary), which turns with the cloud. Fewer than `neighbors` points: all.
    """
    squared = tf.reduce_sum(points * points, axis=-1)
    distances = squared[:, None] - 2.0 * tf.matmul(points, points, transpose_b=True) + squared[None, :]
    count = tf.minimum(neighbors, tf.shape(points)[0])
    _, nearest = tf.math.top_k(-distances, k=count)
    patches = tf.gather(points, nearest)  # (P, k, 3)
    patches = patches - tf.reduce_mean(patches, axis=1, keepdims=True)
    covariance = tf.matmul(patches, patches, transpose_a=True) / tf.cast(count, points.dtype)
    values, vectors = tf.linalg.eigh(covariance)  # ascending
    values = tf.maximum(values, 0.0)
    l3, l2, l1 = tf.unstack(values, axis=-1)
    largest = tf.maximum(l1, 1e-12)
    shape = tf.stack([(l1 - l2) / largest, (l2 - l3) / largest, l3 / largest], axis=-1)
    return tf.concat([shape, vectors[:, :, 0]], axis=-1)


def evenly_spaced(points: tf.Tensor, count) -> tf.Tensor:
    """`count` evenly spaced rows of `(n, C)` points (rows repeat when `n < count`)."""
    available = tf.shape(points)[0]
    index = tf.cast(tf.floor(tf.linspace(0.0, tf.cast(available, tf.float32), count + 1)[:-1]), tf.int32)
    return tf.gather(points, tf.minimum(index, available - 1))


def point_rows(points: tf.Tensor, config: dict) -> tf.Tensor:
    """A cloud `(n, >=3)` -> its decoded rows (the cacheable form that sampling picks from): float32 xyz
    `(n, 3)`; with `config["local_geometry"]` = k, `(m, 3 + LOCAL_GEOMETRY_FEATURES)` xyz and
    `local_geometry` over k neighbours, for m = at most `MAX_GEOMETRY_POINTS` evenly spaced points, so
    that neighbourhoods are the cloud's, not those of a sample with repeated points."""
    points = tf.cast(points[:, :3], tf.float32)
    neighbors = config.get("local_geometry", 0)
    if not neighbors:
        return points
    points = evenly_spaced(points, tf.minimum(tf.shape(points)[0], MAX_GEOMETRY_POINTS))
    # Relative to the cloud's own extent, so that float32 distances keep their precision.
    scaled = normalize_points(points)
    return tf.concat([points, local_geometry(scaled, neighbors)], axis=-1)


def prepare_points(rows: tf.Tensor, config: dict, frame_sample: float = 0.0, seed: tf.Tensor | None = None) -> tf.Tensor:
    """`(P, 3 [+ LOCAL_GEOMETRY_FEATURES])` sampled rows (`point_rows`) -> model input: xyz through
    `normalize_points`, then `pca_align` when `config["align"]` is "pca" (the normals turned with
    them); normals as |n| (their sign is arbitrary). `frame_sample` > 0 (training, with `seed`): the
    frame of that fraction of the points instead (`sampled_principal_frame`)."""
    xyz = normalize_points(rows[:, :3])
    frame = None
    if config.get("align", "none") == "pca":
        frame = sampled_principal_frame(xyz, frame_sample, seed) if frame_sample else principal_frame(xyz)
    if frame is not None:
        xyz = tf.matmul(xyz, frame)
    if not config.get("local_geometry"):
        return xyz
    normals = rows[:, 6:9] if frame is None else tf.matmul(rows[:, 6:9], frame)
    return tf.concat([xyz, rows[:, 3:6], tf.abs(normals)], axis=-1)


def points_to_model_input(points: tf.Tensor, config: dict) -> tf.Tensor:
    """A cloud `(n, >=3)` -> `(num_points, 3)` model input (`(num_points, 3 + LOCAL_GEOMETRY_FEATURES)`
    with `"local_geometry"`), deterministically: `point_rows`, then `rows_to_model_input` (`num_points`
    evenly spaced rows, repeating rows when there are fewer). Training pipelines sample randomly
    instead; serving uses this."""
    return rows_to_model_input(point_rows(points, config), config)


def rows_to_model_input(rows: tf.Tensor, config: dict) -> tf.Tensor:
    """Decoded `point_rows` -> `(num_points, ...)` model input: `num_points` evenly spaced rows, then
    `prepare_points`; with local geometry the other way round (normalised and aligned as the whole
    cloud, as its features were computed)."""
    if config.get("local_geometry"):
        return evenly_spaced(prepare_points(rows, config), config["num_points"])
    return prepare_points(evenly_spaced(rows, config["num_points"]), config)
