"""Multi-label sound mixtures for the task suite: 1-second clips at 16 kHz in which 1 to 3 distinct
sound events overlap at random offsets and gains over coloured background noise, listed in a
`file,labels` CSV manifest (`perceiver_tf.data.manifest`).

The 8 event classes: 4 words of `benchmarks.speech_synth`, each said by a new random voice, and 4
synthetic sounds, each with its own random parameters (a harmonic tone, a frequency sweep, a click
train, a band of noise). Every event draws its parameters afresh, so draws of different seeds share
no voices nor sounds.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from functools import partial

import numpy as np
from scipy.signal import butter, lfilter

from benchmarks.speech_synth import RATE, random_voice, utter, write_wav

#: Samples in a clip (1 second).
CLIP_SAMPLES = RATE
#: Events per clip: 1 to this many distinct classes.
MAX_EVENTS = 3
#: The manifest a draw writes (what `--data` names), next to its `clips/` folder.
MANIFEST = "manifest.csv"


def _seconds(low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    """The sample times `(n,)` of a random duration in [low, high) seconds."""
    return np.arange(int(rng.uniform(low, high) * RATE)) / RATE


def _word(word: str, rng: np.random.Generator) -> np.ndarray:
    """`word` (a `speech_synth.WORDS` key) said by a new random voice, 0.19-0.75 s."""
    return utter(word, random_voice(rng), rng)


def _tone(rng: np.random.Generator) -> np.ndarray:
    """A steady tone of 3 harmonics of a 300-1000 Hz pitch, 0.15-0.4 s."""
    t, pitch = _seconds(0.15, 0.4, rng), rng.uniform(300, 1000)
    return sum(rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * k * pitch * t + rng.uniform(0, 2 * np.pi))
               for k in (1, 2, 3))


def _sweep(rng: np.random.Generator) -> np.ndarray:
    """An exponential sine sweep over 1-2 octaves from 400-1500 Hz, up or down, 0.15-0.35 s."""
    t, start, ratio = _seconds(0.15, 0.35, rng), rng.uniform(400, 1500), rng.uniform(2, 4)
    duration = len(t) / RATE
    sound = np.sin(2 * np.pi * start * duration * (ratio ** (t / duration) - 1) / np.log(ratio))
    return sound[::-1] if rng.random() < 0.5 else sound


def _clicks(rng: np.random.Generator) -> np.ndarray:
    """A train of 8-25 clicks a second (each a 1.5-4 kHz ring decaying in 2 ms), 0.2-0.5 s."""
    t = _seconds(0.2, 0.5, rng)
    train = np.zeros(len(t))
    train[(np.arange(0, t[-1], 1 / rng.uniform(8, 25)) * RATE).astype(int)] = 1.0
    ring = np.arange(int(0.01 * RATE)) / RATE
    return np.convolve(train, np.exp(-ring / 0.002) * np.sin(2 * np.pi * rng.uniform(1500, 4000) * ring))[: len(t)]


def _noise_band(rng: np.random.Generator) -> np.ndarray:
    """A burst of one-octave band noise centred at 300-3000 Hz, 0.1-0.3 s."""
    centre = np.exp(rng.uniform(np.log(300), np.log(3000)))
    b, a = butter(2, [centre / np.sqrt(2) / (RATE / 2), centre * np.sqrt(2) / (RATE / 2)], "band")
    return lfilter(b, a, rng.normal(size=len(_seconds(0.1, 0.3, rng))))


#: The classes: `{name: draw(rng) -> (samples,) one random event}`.
EVENTS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    **{word: partial(_word, word) for word in ("sa", "ifi", "ushu", "ou")},
    "tone": _tone, "sweep": _sweep, "clicks": _clicks, "noise_band": _noise_band,
}


def _background(rng: np.random.Generator) -> np.ndarray:
    """`(CLIP_SAMPLES,)` noise of a random spectral tilt (white to brown-ish), standard deviation 0.002-0.01."""
    noise = lfilter([1.0], [1.0, -rng.uniform(0.0, 0.95)], rng.normal(size=CLIP_SAMPLES))
    return noise / noise.std() * np.exp(rng.uniform(np.log(0.002), np.log(0.01)))


def mixture(rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """One clip: `((CLIP_SAMPLES,) float32 in [-1, 1], its sorted class names)`.

    1 to `MAX_EVENTS` distinct classes, each one event scaled to a peak of 0.09-0.5 (-15 to 0 dB) at a
    random offset (overlaps allowed; an event longer than the rest of the clip is cut), over
    `_background` noise; the sum is scaled down when its peak passes 1.
    """
    names = sorted(rng.choice(list(EVENTS), int(rng.integers(1, MAX_EVENTS + 1)), replace=False))
    clip = _background(rng)
    for name in names:
        event = EVENTS[name](rng)[:CLIP_SAMPLES]
        event *= 0.5 * 10 ** (rng.uniform(-15, 0) / 20) / (np.abs(event).max() + 1e-9)
        start = int(rng.integers(0, CLIP_SAMPLES - len(event) + 1))
        clip[start:start + len(event)] += event
    return (clip / max(1.0, np.abs(clip).max())).astype(np.float32), [str(n) for n in names]


def write_mixtures(root: str, seed: int, per_class: int) -> None:
    """One draw: `root/clips/<seed>_<index>.wav` and `root/manifest.csv` (`file,labels`, the labels joined
    by `LABEL_SEPARATOR`).

    A clip holds 2 events on average, so `per_class * len(EVENTS) / 2` clips make each class occur
    in about `per_class` of them.
    """
    from perceiver_tf.data.manifest import LABEL_SEPARATOR

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "clips"), exist_ok=True)
    with open(os.path.join(root, MANIFEST), "w", newline="") as handle:
        manifest = csv.writer(handle)
        manifest.writerow(["file", "labels"])
        for index in range(round(per_class * len(EVENTS) / 2)):
            wave, names = mixture(rng)
            file = f"clips/{seed:04d}_{index:05d}.wav"
            write_wav(os.path.join(root, file), wave)
            manifest.writerow([file, LABEL_SEPARATOR.join(names)])
