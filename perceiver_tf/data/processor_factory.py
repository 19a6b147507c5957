"""The processor a source's examples are read with, built from `DataOptions` and sized from the data.

`make_processor` builds one from a sample's shape; `processor_for_files` probes a list of files
for their shapes (and readability) first: the median image size, the longest sensor recording.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np

from perceiver_tf.data.audio import AudioProcessor
from perceiver_tf.data.audio_video import AudioVideoProcessor
from perceiver_tf.data.errors import DataWarning
from perceiver_tf.data.formats import check_modality
from perceiver_tf.data.images import ImageProcessor, image_file_shape
from perceiver_tf.data.options import DataOptions, check_options
from perceiver_tf.data.pipeline import find_unreadable, probe_files
from perceiver_tf.data.points import DEFAULT_NUM_POINTS, PointsProcessor
from perceiver_tf.data.sensors_processor import SensorProcessor, recording_shape
from perceiver_tf.data.video import VideoProcessor, clip_frame_shape
from perceiver_tf.data.wav import truncation
from perceiver_tf.option_names import option

#: Longest image side used when `image_size` is not given and images are larger.
DEFAULT_MAX_IMAGE_SIDE = 32
#: Most time steps per sensor example when `num_steps` is not given and recordings are longer.
DEFAULT_MAX_SENSOR_STEPS = 1024


def make_processor(modality: str, options: DataOptions, sample_shape: tuple | None = None):
    """The processor of `modality` for training.

    `sample_shape` sizes what the options leave open: an image / video frame `(H, W, C)`, or a
    sensor recording `(longest T, C)`. `options.processor`, when set, is returned instead.

    Raises:
        ValueError: an unknown modality, another modality's options (`options.check_options`), or
            a given processor of another modality.
    """
    if options.processor is not None:
        if options.processor.modality != modality:
            raise ValueError(f"The data holds {modality} examples, but the model reads {options.processor.modality}.")
        return options.processor
    check_options(check_modality(modality), options)
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
                               options.center_recordings, mask_padding=True)
    size, channels = _fitted_size(sample_shape, options)  # audio_video
    return AudioVideoProcessor(_audio_processor(options), VideoProcessor(size, channels, options.num_frames))


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
    if modality == "audio":
        _warn_of_truncated_wavs(paths)
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


def _warn_of_truncated_wavs(paths: list[str], shown: int = 5) -> None:
    """A `DataWarning` naming the WAV files that end inside their data chunk (read up to their last whole frame)."""
    truncated = {path: why for path in paths if path.lower().endswith(".wav") and (why := truncation(path))}
    if truncated:
        listed = "; ".join(f"{path} {why}" for path, why in list(truncated.items())[:shown])
        more = f" (and {len(truncated) - shown} more)" if len(truncated) > shown else ""
        warnings.warn(f"{len(truncated)} WAV file(s) end before their data does and are read up to their last "
                      f"whole frame: {listed}{more}.", DataWarning, stacklevel=3)


def _fitted_size(sample_shape: tuple, options: DataOptions) -> tuple[tuple[int, int], int]:
    """`(image_size, channels)` for images or frames of `sample_shape` `(H, W, C)` under `options`."""
    size = options.image_size
    if size is None:
        height, width = sample_shape[:2]
        shrink = min(1.0, DEFAULT_MAX_IMAGE_SIDE / max(height, width))
        size = (max(1, round(height * shrink)), max(1, round(width * shrink)))
    return tuple(size), options.channels or (1 if sample_shape[-1] == 1 else 3)


def _audio_processor(options: DataOptions) -> AudioProcessor:
    return AudioProcessor(options.sample_rate, options.clip_seconds, options.audio_features, options.audio_patch_size,
                          options.num_mel_bins, normalize=options.normalize_audio, time_shift=options.time_shift,
                          gain_db=options.gain_db, frequency_warp=options.frequency_warp)


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
                  f"{option('image_size', 'H W', '(H, W)')} to choose the size.", DataWarning, stacklevel=3)
