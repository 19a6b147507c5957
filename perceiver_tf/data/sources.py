"""Resolve a `--data` source string into labelled, decoded train / validation examples.

Sources: `digits` (built-in, offline), `tfds:NAME[:SPLIT]`, a class-per-sub-folder directory
of images / audio / point clouds / sensor recordings (or audio + video clip folders), a CSV
manifest of files and (multi-)labels, TFRecord files (`*.tfrecord`, a glob, or a folder of them),
an `.npz` file with arrays `x` and `y`, and in-memory arrays (`from_arrays`).
"""

from __future__ import annotations

import glob
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
import tensorflow as tf

from perceiver_tf.data.audio import AudioProcessor
from perceiver_tf.data.audio_video import AudioVideoProcessor
from perceiver_tf.data.errors import DataOptionError, DataWarning
from perceiver_tf.data.folder import scan_folder
from perceiver_tf.data.formats import check_modality
from perceiver_tf.data.images import ImageProcessor, image_file_shape
from perceiver_tf.data.model_inputs import describe_inputs
from perceiver_tf.data.pipeline import (
    decode_files,
    find_unreadable,
    probe_files,
    unreadable_error,
)
from perceiver_tf.data.points import DEFAULT_NUM_POINTS, PointsProcessor
from perceiver_tf.data.sensors_processor import SensorProcessor, recording_shape
from perceiver_tf.data.splits import stratified_split
from perceiver_tf.data.video import VideoProcessor, clip_frame_shape

#: Longest image side used when --image-size is not given and images are larger.
DEFAULT_MAX_IMAGE_SIDE = 32
#: Most time steps per sensor example when --num-steps is not given and recordings are longer.
DEFAULT_MAX_SENSOR_STEPS = 1024


@dataclass
class DataOptions:
    """How a source is read and preprocessed (the `perceiver-tf train` data flags).

    Settings left open are read from all the files (every file is decoded once before training):

    - `image_size=None`: the median image size by area (H x W; the upper median of an even count),
      so a few odd-sized files do not decide, shrunk to at most `DEFAULT_MAX_IMAGE_SIDE` a side.
      Every image is resized to it; a `DataWarning` lists the sizes when they differ. For audio +
      video clips, the same over each clip's frame size.
    - `channels=None`: 3 (RGB) when any image or clip has colour, else 1 (all grey stay grey).
    - `num_steps=None`: the longest sensor recording (up to `DEFAULT_MAX_SENSOR_STEPS`).
    - `multi_label=None`: from a manifest's labels (multi-label when a file has none or several).

    The options of one modality (`MODALITY_OPTIONS`) set on data of another are an error.
    """

    modality: str | None = None
    validation_fraction: float = 0.2
    seed: int = 0
    skip_bad_files: bool = False
    image_size: tuple[int, int] | None = None
    channels: int | None = None
    rand_augment: bool = False
    pixel_permutation_seed: int | None = None
    sample_rate: int = 16000
    clip_seconds: float = 1.0
    audio_features: str = "log_mel"
    audio_patch_size: int = 128
    num_mel_bins: int = 64
    normalize_audio: bool = False
    time_shift: float = 0.0
    gain_db: float = 0.0
    frequency_warp: float = 0.0
    num_points: int | None = None  # None: points.DEFAULT_NUM_POINTS
    rotate: str | bool = "none"  # "none" | "z" | "so3" (True: "z", False: "none")
    jitter: float = 0.0
    scale_range: tuple[float, float] | None = None
    axis_scale_range: tuple[float, float] | None = None
    point_dropout: float = 0.0
    point_align: str = "none"
    frame_sample: float = 0.0
    local_geometry: int = 0
    num_steps: int | None = None
    center_recordings: bool = False
    num_frames: int = 8
    multi_label: bool | None = None
    #: Use this processor (e.g. a trained model's, `processor_from_config(metadata["preprocessing"])`)
    #: instead of one sized from the data: evaluation data is then read exactly as in training.
    processor: object | None = None


#: Modality-specific `DataOptions` fields: `{field: (its perceiver-tf train flag, the modalities that read it)}`.
MODALITY_OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "image_size": ("--image-size", ("image", "audio_video")),
    "channels": ("--channels", ("image", "audio_video")),
    "rand_augment": ("--rand-augment", ("image",)),
    "pixel_permutation_seed": ("--permute-pixels", ("image",)),
    "sample_rate": ("--sample-rate", ("audio", "audio_video")),
    "clip_seconds": ("--clip-seconds", ("audio", "audio_video")),
    "audio_features": ("--audio-features", ("audio", "audio_video")),
    "audio_patch_size": ("--patch-size", ("audio", "audio_video")),
    "num_mel_bins": ("--mel-bins", ("audio", "audio_video")),
    "normalize_audio": ("--normalize-audio", ("audio", "audio_video")),
    "time_shift": ("--time-shift", ("audio", "audio_video")),
    "gain_db": ("--gain-db", ("audio", "audio_video")),
    "frequency_warp": ("--frequency-warp", ("audio", "audio_video")),
    "num_points": ("--num-points", ("points",)),
    "rotate": ("--rotate", ("points",)),
    "jitter": ("--jitter", ("points",)),
    "scale_range": ("--scale", ("points",)),
    "axis_scale_range": ("--axis-scale", ("points",)),
    "point_dropout": ("--point-dropout", ("points",)),
    "point_align": ("--align", ("points",)),
    "frame_sample": ("--frame-sample", ("points",)),
    "local_geometry": ("--local-geometry", ("points",)),
    "num_steps": ("--num-steps", ("sensors",)),
    "center_recordings": ("--center-recordings", ("sensors",)),
    "num_frames": ("--num-frames", ("audio_video",)),
}
#: Each modality as messages name it.
MODALITY_NAMES = {"image": "images", "audio": "audio", "points": "point clouds", "sensors": "sensor recordings",
                  "audio_video": "audio + video clips"}


def modality_options_set(options: DataOptions) -> list[str]:
    """The `MODALITY_OPTIONS` fields `options` sets off their defaults (the modality flags a user gave)."""
    defaults = DataOptions()
    return [name for name in MODALITY_OPTIONS if getattr(options, name) != getattr(defaults, name)]


def _check_options(modality: str, options: DataOptions) -> None:
    """Raise a `DataOptionError` naming every `MODALITY_OPTIONS` flag set (off its default) that `modality` does not read."""
    stray = [MODALITY_OPTIONS[name] for name in modality_options_set(options)
             if modality not in MODALITY_OPTIONS[name][1]]
    if stray:
        uses = "; ".join(f"{flag} applies to {' and '.join(MODALITY_NAMES[m] for m in readers)}"
                         for flag, readers in stray)
        raise DataOptionError(f"{uses}, but this data is {MODALITY_NAMES[modality]}; "
                         f"remove {'it' if len(stray) == 1 else 'them'}.")


@dataclass
class DataSource:
    """Decoded `(example, label)` datasets (unbatched) with what is needed to build the model."""

    train: tf.data.Dataset
    val: tf.data.Dataset
    class_names: list[str]
    processor: object
    num_train: int | None = None
    num_val: int | None = None
    skipped: list[str] = field(default_factory=list)
    #: Why each skipped file was left out, `{path: reason}`.
    skip_reasons: dict[str, str] = field(default_factory=dict)
    #: True when validation comes from the source's own held-out split (val/ folder, TFDS
    #: validation/test split, val TFRecords, the digits split), not a seeded split.
    explicit_val: bool = False
    #: Labels are multi-hot float vectors `(num_classes,)` instead of class ids.
    multi_label: bool = False

    @property
    def modality(self) -> str:
        return self.processor.modality

    def relabel(self, class_names: list[str]) -> "DataSource":
        """This source with labels re-indexed into `class_names` (e.g. a trained model's classes).

        Raises:
            ValueError: a class of this source that `class_names` lacks.
        """
        unknown = [c for c in self.class_names if c not in class_names]
        if unknown:
            raise ValueError(f"Classes {unknown} are not among the model's classes {list(class_names)}.")
        table = tf.constant([list(class_names).index(c) for c in self.class_names], tf.int32)
        if self.multi_label:  # scatter the multi-hot columns into the model's class order
            remap = lambda x, y: (x, tf.scatter_nd(table[:, None], y, [len(class_names)]))  # noqa: E731
        else:
            remap = lambda x, y: (x, tf.gather(table, y))  # noqa: E731
        return replace(self, train=self.train.map(remap), val=self.val.map(remap), class_names=list(class_names))

    @property
    def metadata(self) -> dict:
        """The model metadata contract: class names, modality, the preprocessing dict and what the
        model's inputs hold (`model_inputs.describe_inputs`: dtype, shape, value range)."""
        return {"class_names": list(self.class_names), "modality": self.modality,
                "preprocessing": dict(self.processor.config), "multi_label": self.multi_label,
                "inputs": describe_inputs(self.processor)}


def _fitted_size(sample_shape: tuple, options: DataOptions) -> tuple[tuple[int, int], int]:
    """`(image_size, channels)` for images or frames of `sample_shape` `(H, W, C)` under `options`."""
    size = options.image_size
    if size is None:
        height, width = sample_shape[:2]
        shrink = min(1.0, DEFAULT_MAX_IMAGE_SIDE / max(height, width))
        size = (max(1, round(height * shrink)), max(1, round(width * shrink)))
    return tuple(size), options.channels or (1 if sample_shape[-1] == 1 else 3)


def make_processor(modality: str, options: DataOptions, sample_shape: tuple | None = None):
    """The processor of `modality` for training.

    `sample_shape` sizes what the options leave open: an image / video frame `(H, W, C)`, or a
    sensor recording `(longest T, C)`. `options.processor`, when set, is returned instead.

    Raises:
        ValueError: an unknown modality, another modality's options (`check_options`), or a
            given processor of another modality.
    """
    if options.processor is not None:
        if options.processor.modality != modality:
            raise ValueError(f"The data holds {modality} examples, but the model reads {options.processor.modality}.")
        return options.processor
    _check_options(check_modality(modality), options)
    if modality == "image":
        size, channels = _fitted_size(sample_shape, options)
        return ImageProcessor(size, channels, options.rand_augment, options.pixel_permutation_seed)
    if modality == "audio":
        return _audio_processor(options)
    if modality == "points":
        return PointsProcessor(options.num_points or DEFAULT_NUM_POINTS, options.rotate, options.jitter,
                               options.scale_range, options.axis_scale_range, options.point_dropout,
                               options.point_align, options.local_geometry, options.frame_sample)
    if modality == "sensors":
        steps, channels = sample_shape
        return SensorProcessor(options.num_steps or min(steps, DEFAULT_MAX_SENSOR_STEPS), channels,
                               options.center_recordings)
    size, channels = _fitted_size(sample_shape, options)  # audio_video
    return AudioVideoProcessor(_audio_processor(options), VideoProcessor(size, channels, options.num_frames))


def _audio_processor(options: DataOptions) -> AudioProcessor:
    return AudioProcessor(options.sample_rate, options.clip_seconds, options.audio_features, options.audio_patch_size,
                          options.num_mel_bins, normalize=options.normalize_audio, time_shift=options.time_shift,
                          gain_db=options.gain_db, frequency_warp=options.frequency_warp)


def load_source(spec: str, options: DataOptions | None = None) -> DataSource:
    """Resolve `spec` (see the module docstring) into a `DataSource`.

    Raises:
        ValueError: an unknown/empty/ill-formed source, with what was expected.
    """
    options = options or DataOptions()
    if spec == "digits":
        from perceiver_tf.data.digits import DIGITS_CLASS_NAMES, load_digits_split

        (x_train, y_train), (x_val, y_val) = load_digits_split(options.validation_fraction, options.seed)
        source = from_arrays(np.concatenate([x_train, x_val]) * 255.0, np.concatenate([y_train, y_val]),
                             DIGITS_CLASS_NAMES, options,
                             validation_index=np.arange(len(x_train), len(x_train) + len(x_val)))
        source.explicit_val = True
        return source
    if spec.startswith("tfds:"):
        from perceiver_tf.data.tfds_source import load_tfds

        return load_tfds(spec[len("tfds:"):], options)
    tfrecords = _tfrecord_files(spec)
    if tfrecords:
        from perceiver_tf.data.tfrecord_source import load_tfrecords

        return load_tfrecords(tfrecords, options)
    if spec.endswith(".csv") and os.path.isfile(spec):
        from perceiver_tf.data.manifest import load_manifest

        return load_manifest(spec, options)
    if spec.endswith(".npz") and os.path.isfile(spec):
        with np.load(spec) as arrays:
            if not {"x", "y"} <= set(arrays.files):
                raise ValueError(f"{spec!r} must hold arrays 'x' (examples) and 'y' (int labels); found {arrays.files}")
            names = [str(n) for n in arrays["class_names"]] if "class_names" in arrays.files else None
            return from_arrays(arrays["x"], arrays["y"], names, options)
    if os.path.isdir(spec):
        return load_folder(spec, options)
    raise ValueError(
        f"Unknown --data {spec!r}: expected 'digits', 'tfds:NAME[:SPLIT]', a folder with one "
        "sub-folder per class, a .csv manifest (file,labels), TFRecord file(s), or an .npz file with arrays x and y."
    )


def _tfrecord_files(spec: str) -> list[str]:
    pattern = os.path.join(spec, "*.tfrecord*") if os.path.isdir(spec) else spec
    if os.path.isfile(spec) and ".tfrec" not in spec:
        return []
    return sorted(glob.glob(pattern)) if ".tfrec" in pattern or glob.has_magic(pattern) else []


def load_folder(root: str, options: DataOptions) -> DataSource:
    """A class-per-sub-folder directory; unreadable files fail clearly (each with its reason) or are skipped."""
    index = scan_folder(root, options.modality, options.validation_fraction, options.seed, options.skip_bad_files)
    processor, unreadable = processor_for_files(index.modality, index.train.paths + index.val.paths, options)
    if unreadable and not options.skip_bad_files:
        raise unreadable_error(unreadable, f"{index.modality} file(s)")
    keep = lambda files: ([p for p in files.paths if p not in unreadable],  # noqa: E731
                          [l for p, l in zip(files.paths, files.labels) if p not in unreadable])
    (train_paths, train_labels), (val_paths, val_labels) = keep(index.train), keep(index.val)
    if len(set(train_labels)) < 2 or not val_paths:
        raise ValueError(f"Too few readable files left in {root!r}: {len(train_paths)} train, {len(val_paths)} val.")
    reasons = {path: f"not a {index.modality} file (by extension)" for path in index.unsupported} | unreadable
    return DataSource(
        decode_files(train_paths, train_labels, processor.decode_file),
        decode_files(val_paths, val_labels, processor.decode_file),
        index.class_names, processor, len(train_paths), len(val_paths), list(reasons), reasons,
        explicit_val=index.explicit_val,
    )


def processor_for_files(modality: str, paths: list[str], options: DataOptions) -> tuple[object, dict[str, str]]:
    """The processor for `paths` and the files it cannot decode, `{path: reason}`.

    The processor is `options.processor`, or one sized from all the files (`DataOptions`): images
    and sensor recordings are decoded once for their shapes and readability together; clips once
    for their frame size, then whole; other files once, whole.

    Raises:
        ValueError: no file could be read, or sensor recordings with different channel counts.
    """
    probes = {"image": lambda path: image_file_shape(path, options.channels or 0), "sensors": recording_shape,
              "audio_video": clip_frame_shape}
    if options.processor is not None or modality not in probes:
        processor = make_processor(modality, options)
        return processor, find_unreadable(paths, processor.decode_file)
    shapes, unreadable = probe_files(paths, probes[modality])
    if not shapes:
        path, reason = next(iter(unreadable.items()))
        raise ValueError(f"None of the {len(paths)} {modality} files could be read (the first: {path}: {reason}).")
    if modality == "sensors":
        return make_processor(modality, options, _recording_shape(shapes)), unreadable
    shape = _typical_image_shape(list(shapes.values()))
    processor = make_processor(modality, options, shape)
    if options.image_size is None:
        _warn_of_mixed_sizes([tuple(s[:2]) for s in shapes.values()], _fitted_size(shape, options)[0], modality)
    if modality == "audio_video":  # the frame sizes came from one frame per clip: now decode the clips whole
        unreadable = find_unreadable(paths, processor.decode_file)
    return processor, unreadable


def _recording_shape(shapes: dict[str, np.ndarray]) -> tuple[int, int]:
    """`(longest T, C)` of sensor recordings' `{path: (T, C)}`.

    Raises:
        ValueError: recordings with different channel counts, with a file of each count.
    """
    channels = sorted({int(shape[1]) for shape in shapes.values()})
    if len(channels) > 1:
        by_count = {c: next(p for p, s in shapes.items() if s[1] == c) for c in channels}
        raise ValueError(f"Sensor recordings need one channel count; found {channels} (e.g. {by_count}).")
    return max(int(shape[0]) for shape in shapes.values()), channels[0]


def _typical_image_shape(shapes: list) -> tuple[int, int, int]:
    """The `(H, W, C)` images (or video frames) of `shapes` `[(H, W, C), ...]` are read at (`DataOptions`).

    `(H, W)`: the median size by area (the upper median of an even count; ties by height); C: 3 when
    any has colour (C >= 3: RGB or RGBA), else 1 (grey, or grey + alpha).
    """
    sizes = sorted((int(h) * int(w), int(h), int(w)) for h, w, _ in shapes)
    _, height, width = sizes[len(sizes) // 2]
    return height, width, 3 if any(int(c) >= 3 for *_, c in shapes) else 1


def _warn_of_mixed_sizes(sizes: list[tuple[int, int]], chosen: tuple[int, int], modality: str) -> None:
    """A `DataWarning` listing the most common sizes when `sizes` `[(H, W), ...]` differ."""
    counts = Counter((int(h), int(w)) for h, w in sizes)
    if len(counts) < 2:
        return
    what = "images" if modality == "image" else "clips' video frames"
    listed = ", ".join(f"{h}x{w} ({n})" for (h, w), n in counts.most_common(5)) + (", ..." if len(counts) > 5 else "")
    warnings.warn(f"The {what} have {len(counts)} different sizes (HxW (files): {listed}); all are resized to "
                  f"{chosen[0]}x{chosen[1]} (the median size, at most {DEFAULT_MAX_IMAGE_SIDE} pixels a side). Pass "
                  "--image-size H W to choose the size.", DataWarning, stacklevel=3)


def from_arrays(x, y, class_names: list[str] | None = None, options: DataOptions | None = None,
                validation_index=None) -> DataSource:
    """In-memory arrays: images `(N, H, W[, C])` (pixels 0-255), point clouds `(N, P, 3)`,
    mono audio `(N, T)` at `options.sample_rate`, or sensor streams `(N, T, C)` (`modality="sensors"`).

    Args:
        x / y: examples and integer labels.
        class_names: names for labels `0..K-1` (default: the label numbers).
        validation_index: indices held out for validation (default: a seeded stratified split).
    """
    options = options or DataOptions()
    x, y = np.asarray(x), np.asarray(y).astype(np.int32).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length. Received: {len(x)} and {len(y)}")
    if y.size == 0 or y.min() < 0:
        raise ValueError("y must hold at least one non-negative integer label per example.")
    num_classes = int(y.max()) + 1
    class_names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    if len(class_names) < max(num_classes, 2):
        raise ValueError(f"Need >= 2 class names covering labels 0..{num_classes - 1}; got {class_names}")
    # Rank 3 is a point cloud when the last axis is xyz, else grey images (N, H, W).
    guessed = {4: "image", 3: "points" if x.shape[-1] == 3 else "image", 2: "audio"}.get(x.ndim)
    modality = options.modality or guessed
    if x.ndim == 3 and modality == "image":
        x = x[..., None]
    if modality is None or (modality == "points" and x.shape[-1] != 3) or (modality == "sensors" and x.ndim != 3):
        raise ValueError(f"Cannot tell the modality of arrays of shape {x.shape}; pass --modality.")
    processor = make_processor(modality, options, x.shape[1:])
    x = x.astype(np.float32)
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(f"x has NaN or infinite values (as float32) in {len(bad)} example(s) (indices {bad[:10].tolist()}); "
                         "clean or drop them.")
    if validation_index is None:
        train_index, validation_index = stratified_split(y, options.validation_fraction, options.seed)
    else:
        train_index = np.setdiff1d(np.arange(len(y)), validation_index)
    decode = {"image": processor.from_decoded, "points": processor.from_decoded, "sensors": processor.from_decoded,
              "audio": lambda w: processor.from_decoded(w, options.sample_rate)}[modality]
    split = lambda index: tf.data.Dataset.from_tensor_slices((x[index], y[index])).map(  # noqa: E731
        lambda example, label: (decode(example), label), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return DataSource(split(train_index), split(validation_index), class_names, processor,
                      len(train_index), len(validation_index))
