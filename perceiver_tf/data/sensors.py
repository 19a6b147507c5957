"""Multichannel sensor streams (IMU, wearables, haptics): load, resample, pad, simulate.

Any channel count and sampling rate feed the unchanged Perceiver: an example is a `(T, C)`
array, the model is `build_classifier(preset, (T, C), input_kind="sequence")` (1-D Fourier
features over time), and variable lengths are padded with a mask (`use_input_mask=True`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from perceiver_tf.data.npy_files import read_npy

SENSOR_SUFFIXES = (".csv", ".npy")
ACTIVITY_CLASS_NAMES = ["rest", "walk", "run", "jump"]


def load_time_series(path: str | Path, channels: Sequence[str | int] | None = None) -> np.ndarray:
    """Read one recording as a float32 `(T, C)` array.

    Args:
        path: a `.npy` file (1-D -> one channel, 2-D `(T, C)`) or a comma-separated `.csv`
            file, one row per time step; a non-numeric first row is taken as a header.
        channels: keep only these columns, by header name (CSV) or index.
    """
    path = Path(path)
    if path.suffix == ".npy":
        array, names = read_npy(str(path)), None
    elif path.suffix == ".csv":
        with path.open() as f:
            first = f.readline().strip().split(",")
        try:
            [float(v) for v in first]
            names, skip = None, 0
        except ValueError:
            names, skip = [n.strip() for n in first], 1
        array = np.loadtxt(path, delimiter=",", skiprows=skip, dtype=np.float32, ndmin=2)
    else:
        raise ValueError(f"Unsupported sensor file {str(path)!r}: expected one of {SENSOR_SUFFIXES}.")
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{str(path)!r} must hold a (time, channels) array. Received shape {array.shape}")
    if channels is not None:
        indices = [_channel_index(c, names, path) for c in channels]
        array = array[:, indices]
    return array


def _channel_index(channel: str | int, names: list[str] | None, path: Path) -> int:
    if isinstance(channel, int):
        return channel
    if names is None or channel not in names:
        raise ValueError(f"Channel {channel!r} not found in {str(path)!r}; header: {names}")
    return names.index(channel)


def load_labelled_directory(
    root: str | Path, channels: Sequence[str | int] | None = None
) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Load `root/<class name>/*.csv|*.npy`: one sub-folder per class.

    Returns:
        `(recordings, labels, class_names)`: a list of `(T_i, C)` arrays, int32 labels
        (indices into the sorted `class_names`).
    """
    root = Path(root)
    class_names = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not class_names:
        raise ValueError(f"No class sub-folders in {str(root)!r}; expected root/<class name>/*.csv or *.npy.")
    recordings, labels = [], []
    for label, name in enumerate(class_names):
        for path in sorted((root / name).iterdir()):
            if path.suffix in SENSOR_SUFFIXES:
                recordings.append(load_time_series(path, channels))
                labels.append(label)
    return recordings, np.asarray(labels, dtype=np.int32), class_names


def resample(series: np.ndarray, rate: float, target_rate: float, taps: int = 64) -> np.ndarray:
    """Resample a `(T, C)` recording from `rate` Hz to `target_rate` Hz, `(T', C)`.

    Linear interpolation at the target times (`T' - 1` steps cover the same duration). When
    downsampling, a Hann-windowed sinc low-pass at `target_rate / 2` (with `taps + 1` taps,
    edge-padded) runs first, so content above the new Nyquist frequency is removed instead of
    folding back as aliases.
    """
    if rate <= 0 or target_rate <= 0:
        raise ValueError(f"Sampling rates must be > 0. Received: rate={rate}, target_rate={target_rate}")
    series = np.asarray(series, dtype=np.float32)
    if target_rate < rate:
        series = _low_pass(series, cutoff=target_rate / 2.0 / rate, taps=taps)
    duration = (len(series) - 1) / rate
    times = np.arange(0.0, duration + 0.5 / target_rate, 1.0 / target_rate)
    source_times = np.arange(len(series)) / rate
    return np.stack([np.interp(times, source_times, series[:, c]) for c in range(series.shape[1])], axis=1).astype(
        np.float32
    )


def _low_pass(series: np.ndarray, cutoff: float, taps: int) -> np.ndarray:
    """Filter `(T, C)` along time; `cutoff` in cycles per sample (< 0.5), unit gain at DC."""
    offsets = np.arange(taps + 1) - taps / 2.0
    kernel = 2.0 * cutoff * np.sinc(2.0 * cutoff * offsets) * np.hanning(taps + 1)
    kernel /= kernel.sum()
    padded = np.pad(series, ((taps // 2, taps - taps // 2), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(series.shape[1])], axis=1)


def pad_batch(recordings: Sequence[np.ndarray], length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack `(T_i, C)` recordings into `(n, length, C)` plus a bool mask `(n, length)`.

    Longer recordings are cropped, shorter ones zero-padded; the mask is True on real steps.
    `length=None`: the longest recording.
    """
    widths = {r.shape[1] for r in recordings}
    if len(widths) != 1:
        raise ValueError(f"All recordings need the same channel count. Received channel counts: {sorted(widths)}")
    length = length or max(len(r) for r in recordings)
    batch = np.zeros((len(recordings), length, widths.pop()), dtype=np.float32)
    mask = np.zeros((len(recordings), length), dtype=bool)
    for i, r in enumerate(recordings):
        steps = min(len(r), length)
        batch[i, :steps] = r[:steps]
        mask[i, :steps] = True
    return batch, mask


def simulate_accelerometer(
    num_examples: int,
    num_steps: int = 128,
    sampling_rate: float = 50.0,
    num_channels: int = 3,
    noise: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic wearable recordings of four activities (`ACTIVITY_CLASS_NAMES`).

    Every channel is gravity (a random orientation) + an activity signal + Gaussian noise:
    rest (none), walk (~2 Hz, amplitude 0.3 g), run (~3 Hz, 1 g), jump (~1 Hz bursts of
    1.5 g impacts). Frequencies, phases and amplitudes are jittered per example.

    Returns:
        `(x, y)`: float32 `(num_examples, num_steps, num_channels)` and int32 labels.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(num_steps) / sampling_rate
    y = rng.integers(0, len(ACTIVITY_CLASS_NAMES), size=num_examples).astype(np.int32)
    x = np.empty((num_examples, num_steps, num_channels), dtype=np.float32)
    for i, label in enumerate(y):
        gravity = rng.normal(size=num_channels)
        gravity /= np.linalg.norm(gravity)
        frequency = (0.0, 2.0, 3.0, 1.0)[label] * rng.uniform(0.85, 1.15)
        amplitude = (0.0, 0.3, 1.0, 1.5)[label] * rng.uniform(0.8, 1.2, size=num_channels)
        phase = rng.uniform(0, 2 * np.pi, size=num_channels)
        wave = np.sin(2 * np.pi * frequency * t[:, None] + phase)
        if label == 3:
            wave = np.maximum(wave, 0.0) ** 8
        x[i] = gravity + amplitude * wave + rng.normal(scale=noise, size=(num_steps, num_channels))
    return x, y
