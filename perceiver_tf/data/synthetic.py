"""Small generated class-per-folder data sets (PNG squares, WAV tones, point-cloud solids).

For tests and demos without downloads: each writes `root/<class>/<files>` that
`perceiver-tf train --data root` reads, with enough per-example variation (noise, phase,
rotation, size) that a classifier must learn the class signal.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

IMAGE_CLASSES = ("left", "centre", "right")
TONE_CLASSES = {"low": 330.0, "mid": 880.0, "high": 2200.0}
SHAPE_CLASSES = ("sphere", "cube", "cylinder")


def write_image_folder(root: str, per_class: int = 12, size: int = 16, seed: int = 0) -> list[str]:
    """RGB PNGs of a bright square on the left, centre or right (random colour, size, height, noise).

    The class is the square's position, so a model must use its position encoding.
    """
    rng = np.random.default_rng(seed)
    for column, name in enumerate(IMAGE_CLASSES):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            image = rng.uniform(0.0, 0.3, (size, size, 3))
            side = int(rng.integers(size // 4, size // 3 + 1))
            left = int(column * size / 3 + rng.integers(0, max(1, size // 3 - side + 1)))
            top = int(rng.integers(0, size - side + 1))
            image[top : top + side, left : left + side] = rng.uniform(0.7, 1.0, 3)
            pixels = np.clip(image * 255, 0, 255).astype(np.uint8)
            tf.io.write_file(os.path.join(root, name, f"{i:03d}.png"), tf.io.encode_png(pixels))
    return list(IMAGE_CLASSES)


def write_audio_folder(root: str, per_class: int = 10, sample_rates=(8000, 11025), seconds=(0.4, 0.7),
                       seed: int = 0) -> list[str]:
    """WAV tones (330 / 880 / 2200 Hz) at mixed rates, lengths and channel counts, with noise."""
    rng = np.random.default_rng(seed)
    for name, frequency in TONE_CLASSES.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            rate = int(sample_rates[i % len(sample_rates)])
            t = np.arange(int(rate * rng.uniform(*seconds))) / rate
            tone = 0.5 * np.sin(2 * np.pi * frequency * rng.uniform(0.97, 1.03) * t + rng.uniform(0, 2 * np.pi))
            channels = 1 + i % 2
            wave = tone[:, None] * rng.uniform(0.4, 1.0, channels) + rng.normal(0, 0.05, (len(t), channels))
            encoded = tf.audio.encode_wav(np.clip(wave, -1, 1).astype(np.float32), rate)
            tf.io.write_file(os.path.join(root, name, f"{i:03d}.wav"), encoded)
    return list(TONE_CLASSES)


def sample_shape(name: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` points on the surface of a unit sphere, cube or cylinder, randomly rotated about z."""
    if name == "sphere":
        points = rng.normal(size=(count, 3))
        points /= np.linalg.norm(points, axis=1, keepdims=True)
    elif name == "cube":
        points = rng.uniform(-1, 1, (count, 3))
        axis = rng.integers(0, 3, count)
        points[np.arange(count), axis] = rng.choice([-1.0, 1.0], count)
    elif name == "cylinder":
        angle = rng.uniform(0, 2 * np.pi, count)
        points = np.stack([np.cos(angle), np.sin(angle), rng.uniform(-1, 1, count)], axis=1)
    else:
        raise ValueError(f"Unknown shape {name!r}. Valid: {', '.join(SHAPE_CLASSES)}")
    theta = rng.uniform(0, 2 * np.pi)
    rotation = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    return (points @ rotation.T * rng.uniform(0.5, 2.0) + rng.normal(0, 0.01, (count, 3))).astype(np.float32)


def write_points_folder(root: str, per_class: int = 10, counts=(60, 300), seed: int = 0) -> list[str]:
    """Sphere / cube / cylinder surface samples, cycling through .npy, .xyz, .ply and .off files."""
    rng = np.random.default_rng(seed)
    for name in SHAPE_CLASSES:
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            points = sample_shape(name, int(rng.integers(*counts)), rng)
            write_point_file(os.path.join(root, name, f"{i:03d}"), points, (".npy", ".xyz", ".ply", ".off")[i % 4])
    return list(SHAPE_CLASSES)


def write_point_file(stem: str, points: np.ndarray, extension: str) -> str:
    """Write `(n, 3)` points as `stem + extension` (.npy, .npz, .xyz/.txt, ascii .ply, .off)."""
    path = stem + extension
    rows = "\n".join(" ".join(f"{v:.6f}" for v in p) for p in points)
    if extension == ".npy":
        np.save(path, points)
    elif extension == ".npz":
        np.savez(path, points=points)
    elif extension in (".xyz", ".txt"):
        np.savetxt(path, points, fmt="%.6f")
    elif extension == ".ply":
        header = f"ply\nformat ascii 1.0\nelement vertex {len(points)}\nproperty float x\nproperty float y\n" \
                 "property float z\nend_header\n"
        with open(path, "w") as f:
            f.write(header + rows + "\n")
    elif extension == ".off":
        with open(path, "w") as f:
            f.write(f"OFF\n{len(points)} 0 0\n{rows}\n")
    else:
        raise ValueError(f"Unknown point-file extension {extension!r}.")
    return path
