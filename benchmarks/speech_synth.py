"""Synthesised spoken words for the task suite: a source-filter voice (glottal pulses through formant
resonators for vowels, band-limited noise for fricatives) saying short made-up words.

A voice is a pitch, a vocal-tract length (formant scale), a speaking rate, breathiness and loudness;
the split into training, validation and test voices is disjoint, so a model is scored on voices
it never heard (the held-out-speaker setting of spoken-word recognition).
"""

from __future__ import annotations

import os

import numpy as np
from scipy.signal import butter, lfilter

RATE = 16000
#: Vowel formants (F1, F2, F3) in Hz of an adult voice.
VOWELS = {"a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (270, 2290, 3010), "o": (570, 840, 2410),
          "u": (300, 870, 2240)}
#: Fricatives: the noise band (Hz).
FRICATIVES = {"s": (4000, 7000), "f": (1200, 4500), "sh": (2000, 4200)}
#: The words (classes): phoneme sequences; order matters ("sa" vs "as").
WORDS = {"sa": ("s", "a"), "as": ("a", "s"), "ifi": ("i", "f", "i"), "ushu": ("u", "sh", "u"),
         "eso": ("e", "s", "o"), "ofa": ("o", "f", "a"), "ie": ("i", "e"), "ou": ("o", "u")}


def random_voice(rng: np.random.Generator) -> dict:
    return {"pitch": rng.uniform(85, 255), "tract": rng.uniform(0.85, 1.2), "rate": rng.uniform(0.8, 1.25),
            "breath": rng.uniform(0.0, 0.15), "gain": rng.uniform(0.3, 0.9)}


def _resonator(signal: np.ndarray, frequency: float, bandwidth: float) -> np.ndarray:
    """A two-pole resonator at `frequency` Hz (Klatt's formant filter), unit gain at 0 Hz."""
    r = np.exp(-np.pi * bandwidth / RATE)
    c, b = -r * r, 2 * r * np.cos(2 * np.pi * frequency / RATE)
    return lfilter([1 - b - c], [1, -b, -c], signal)


def _vowel(name: str, seconds: float, voice: dict, rng: np.random.Generator) -> np.ndarray:
    count = int(seconds * RATE)
    pitch = voice["pitch"] * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(3, 6) * np.arange(count) / RATE))
    phase = np.cumsum(pitch / RATE)
    pulses = np.diff(np.floor(phase), prepend=0.0) + voice["breath"] * rng.normal(size=count)
    sound = pulses
    for formant, bandwidth in zip(VOWELS[name], (80, 100, 150)):
        sound = _resonator(sound, formant * voice["tract"] * rng.uniform(0.97, 1.03), bandwidth)
    return sound / (np.abs(sound).max() + 1e-9)


def _fricative(name: str, seconds: float, voice: dict, rng: np.random.Generator) -> np.ndarray:
    low, high = FRICATIVES[name]
    b, a = butter(2, [low * voice["tract"] / (RATE / 2), min(high * voice["tract"], 7800) / (RATE / 2)], "band")
    noise = lfilter(b, a, rng.normal(size=int(seconds * RATE)))
    return 0.5 * noise / (np.abs(noise).max() + 1e-9)


def utter(word: str, voice: dict, rng: np.random.Generator) -> np.ndarray:
    """`word` spoken by `voice`, nothing around it: `(samples,)` float64, 0.19-0.75 s at `RATE`, peak at most
    `voice["gain"]`."""
    parts = []
    for phoneme in WORDS[word]:
        seconds = rng.uniform(0.12, 0.2) / voice["rate"]
        part = _vowel(phoneme, seconds, voice, rng) if phoneme in VOWELS else _fricative(phoneme, seconds, voice, rng)
        ramp = np.minimum(1.0, np.minimum(np.arange(len(part)), np.arange(len(part))[::-1]) / (0.015 * RATE))
        parts.append(part * ramp)
    return np.concatenate(parts) * voice["gain"]


def say(word: str, voice: dict, rng: np.random.Generator, clip_seconds: float = 1.0) -> np.ndarray:
    """One utterance of `word` by `voice`: `(clip_seconds * RATE,)` float32 in [-1, 1], placed at a random
    offset, with a little background noise."""
    utterance = utter(word, voice, rng)
    clip = rng.normal(0, 0.005, int(clip_seconds * RATE))
    start = int(rng.integers(0, max(1, len(clip) - len(utterance))))
    clip[start:start + len(utterance)] += utterance[: len(clip) - start]
    return np.clip(clip, -1, 1).astype(np.float32)


def write_wav(path: str, wave: np.ndarray) -> None:
    """A mono `(samples,)` float wave in [-1, 1] as a 16-bit PCM WAV file at `RATE`."""
    import tensorflow as tf

    tf.io.write_file(path, tf.audio.encode_wav(np.asarray(wave, np.float32)[:, None], RATE))


def write_words(root: str, num_voices: int, takes: int, seed: int) -> None:
    """`root/<word>/voiceNN_take.wav` for `num_voices` new voices, each saying every word `takes` times."""
    rng = np.random.default_rng(seed)
    for v in range(num_voices):
        voice = random_voice(rng)
        for word in WORDS:
            os.makedirs(os.path.join(root, word), exist_ok=True)
            for take in range(takes):
                write_wav(os.path.join(root, word, f"voice{seed:04d}{v:02d}_{take}.wav"), say(word, voice, rng))


def write_speech_task(root: str, seed: int, test: bool) -> None:
    """Training data `root/train/` (12 voices) + `root/val/` (4 other voices), or a test folder of 8
    further voices (`test=True`); every voice says each word 3 times (test: twice)."""
    if test:
        write_words(root, 8, 2, seed)
        return
    write_words(os.path.join(root, "train"), 12, 3, seed)
    write_words(os.path.join(root, "val"), 4, 3, seed + 500)
