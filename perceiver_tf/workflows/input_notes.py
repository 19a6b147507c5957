"""What `predict` did to an input, and whether the input looks like the training data.

- `conversions`: the preprocessing steps that changed this input (colour -> grey, a resize from its
  size to the model's, a resample, a crop or padding), from what it was (`raw_properties`) and the
  model's preprocessing config.
- `input_statistics` (at training time, saved in the model's metadata) and `unusual`: the range of
  the per-example mean and standard deviation of the prepared model inputs over training examples;
  an input whose mean or deviation falls well outside that range is flagged, e.g. a photo given to
  the digits model (dim, low-contrast, after the conversion to 8x8 grey).
"""

from __future__ import annotations

import os

import numpy as np

#: Training examples the statistics are taken over.
STATISTICS_EXAMPLES = 512
#: An input is unusual when its statistic lies further outside the training range than this
#: fraction of the range's width (plus `_FLOOR`, for ranges of width 0).
MARGIN = 0.5
_FLOOR = 1e-3


def _values(example) -> np.ndarray:
    """The model-input values of a prepared example (its `inputs` entry when it comes with masks)."""
    if isinstance(example, dict):
        example = example.get("inputs")
    return None if example is None else np.asarray(example, np.float64)


def input_statistics(prepared_examples) -> dict | None:
    """`{"mean": [low, high], "std": [low, high]}` over prepared training examples (an iterable of
    arrays, or dicts with `inputs`); None when they have no single input (audio + video)."""
    means, stds = [], []
    for example in prepared_examples:
        values = _values(example)
        if values is None:
            return None
        means.append(values.mean())
        stds.append(values.std())
    if not means:
        return None
    return {"mean": [float(min(means)), float(max(means))], "std": [float(min(stds)), float(max(stds))]}


def training_input_statistics(source) -> dict | None:
    """`input_statistics` of up to `STATISTICS_EXAMPLES` training examples of a `DataSource`, prepared
    as for evaluation (the metadata's `input_statistics`)."""
    import tensorflow as tf

    no_seed = tf.zeros([2], tf.int32)
    prepared = source.train.take(STATISTICS_EXAMPLES).map(lambda x, _: source.processor.prepare(x, False, no_seed))
    return input_statistics(prepared.as_numpy_iterator())


def unusual(statistics: dict | None, example) -> list[str]:
    """Why a prepared example does not look like the training data (empty when it does, or when the
    model records no statistics)."""
    values = _values(example)
    if not statistics or values is None:
        return []
    found = []
    for name, value in (("mean", values.mean()), ("std", values.std())):
        low, high = statistics[name]
        margin = MARGIN * (high - low) + _FLOOR
        if not low - margin <= value <= high + margin:
            what = "mean" if name == "mean" else "standard deviation"
            found.append(f"input {what} {value:.3g} is outside the training examples' {low:.3g} to {high:.3g}")
    return found


def raw_properties(modality: str, item, sample_rate: int | None = None) -> dict:
    """What an input (a file path or a raw array) was before preprocessing: images `{"size", "channels"}`,
    audio `{"rate", "channels", "seconds", ["truncated"]}`, sensors `{"steps"}`, points `{"points"}`
    (`{}` otherwise)."""
    is_file = isinstance(item, (str, os.PathLike))
    if modality == "image":
        if is_file:
            from perceiver_tf.data.images import image_file_shape

            shape = tuple(int(n) for n in image_file_shape(os.fspath(item)).numpy())
        else:
            shape = np.shape(item) if np.ndim(item) == 3 else (*np.shape(item), 1)
        channels = {2: 1, 4: 3}.get(shape[2], shape[2])  # alpha is dropped
        return {"size": (int(shape[0]), int(shape[1])), "channels": int(channels)}
    if modality == "audio":
        samples, rate = _audio(item, sample_rate) if is_file else (np.asarray(item), sample_rate)
        channels = 1 if samples.ndim == 1 else samples.shape[1]
        from perceiver_tf.data.wav import truncation

        truncated = truncation(item) if is_file else None
        return ({"rate": int(rate), "channels": int(channels), "seconds": len(samples) / rate,
                 **({"truncated": truncated} if truncated else {})} if rate else {})
    if modality == "sensors":
        from perceiver_tf.data.sensors import load_time_series

        return {"steps": len(load_time_series(os.fspath(item)) if is_file else np.asarray(item))}
    if modality == "points":
        from perceiver_tf.data.point_files import read_point_file

        return {"points": len(read_point_file(os.fspath(item)) if is_file else np.asarray(item))}
    return {}


def _audio(path, sample_rate: int | None) -> tuple[np.ndarray, int]:
    """A sound file's samples `(T, C)` and rate, as decoded before resampling."""
    if os.fspath(path).lower().endswith(".wav"):
        import tensorflow as tf

        from perceiver_tf.data.wav import decode_wav

        samples, rate = decode_wav(tf.io.read_file(os.fspath(path)))
        return samples.numpy(), int(rate)
    from perceiver_tf.data.audio_decoders import decode_compressed_audio

    samples, rate = decode_compressed_audio(os.fspath(path))
    return samples, int(rate)


def conversions(config: dict, raw: dict) -> list[str]:
    """The steps of the model's preprocessing (`config`) that changed an input with properties `raw`."""
    modality = config.get("modality")
    if modality == "image" and raw:
        return _image_conversions(config, raw)
    if modality == "audio" and raw:
        return _audio_conversions(config, raw)
    if modality == "sensors" and raw:
        return _length_conversion(raw["steps"], config["num_steps"], "steps")
    if modality == "points" and raw:
        points, used = raw["points"], config["num_points"]
        return [f"{points} points -> {used}"] if points != used else []
    return []


def _image_conversions(config: dict, raw: dict) -> list[str]:
    notes = []
    channels = config.get("channels", 3)
    if raw["channels"] != channels:
        notes.append("colour -> grey" if channels == 1 else "grey -> colour")
    if config.get("crop_fraction") is not None:
        notes.append(f"centre crop {config['crop_fraction']:.0%}")
    size = tuple(config["image_size"])
    if tuple(raw["size"]) != size:
        notes.append(f"resized {raw['size'][0]}x{raw['size'][1]} -> {size[0]}x{size[1]}")
    return notes


def _audio_conversions(config: dict, raw: dict) -> list[str]:
    notes = [f"read up to the end of a truncated file (it {raw['truncated']})"] if raw.get("truncated") else []
    rate = config["sample_rate"]
    if raw["channels"] > 1:
        notes.append(f"{raw['channels']} channels -> mono")
    if raw["rate"] != rate:
        notes.append(f"resampled {raw['rate']} -> {rate} Hz")
    clip, seconds = config["num_samples"] / rate, raw["seconds"]
    if abs(seconds - clip) * rate >= 1:
        notes.append(f"the middle {clip:.3g} s of {seconds:.3g} s" if seconds > clip
                     else f"{seconds:.3g} s padded to {clip:.3g} s")
    return notes


def _length_conversion(length: int, used: int, unit: str) -> list[str]:
    if length > used:
        return [f"the middle {used} of {length} {unit}"]
    return [f"{length} {unit} padded to {used}"] if length < used else []
