"""Small generated data sets of every modality: PNG squares, WAV tones, point-cloud solids, sensor
recordings, audio + video clips, and a multi-label manifest.

For tests and demos without downloads: each writes what `perceiver-tf train --data ...` reads
(`root/<class>/<files>`, clip folders, or a `labels.csv`), with enough per-example variation
(noise, phase, rotation, size, length) that a classifier must learn the class signal.
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
                       seed: int = 0, extension: str = "wav") -> list[str]:
    """Tones (330 / 880 / 2200 Hz) at mixed rates, lengths and channel counts, with noise, as `.wav`
    files (TensorFlow's encoder) or, with another `extension` ("flac", "ogg", "mp3"), soundfile's."""
    rng = np.random.default_rng(seed)
    for name, frequency in TONE_CLASSES.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            rate = int(sample_rates[i % len(sample_rates)])
            t = np.arange(int(rate * rng.uniform(*seconds))) / rate
            tone = 0.5 * np.sin(2 * np.pi * frequency * rng.uniform(0.97, 1.03) * t + rng.uniform(0, 2 * np.pi))
            channels = 1 + i % 2
            wave = np.clip(tone[:, None] * rng.uniform(0.4, 1.0, channels) + rng.normal(0, 0.05, (len(t), channels)), -1, 1)
            path = os.path.join(root, name, f"{i:03d}.{extension}")
            if extension == "wav":
                tf.io.write_file(path, tf.audio.encode_wav(wave.astype(np.float32), rate))
            else:
                import soundfile

                soundfile.write(path, wave, rate)
    return list(TONE_CLASSES)


#: Surfaces of `rotated_shape`: the three of `sample_shape` and three more.
SOLID_CLASSES = SHAPE_CLASSES + ("cone", "torus", "pyramid")


def _triangle_points(corners: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` points uniform over triangles `(T, 3, 3)`, each triangle chosen by its area."""
    areas = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    which = rng.choice(len(corners), count, p=areas / areas.sum())
    u, v = rng.uniform(size=(2, count))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    a, b, c = corners[which, 0], corners[which, 1], corners[which, 2]
    return a + u[:, None] * (b - a) + v[:, None] * (c - a)


def surface_points(name: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` points on the surface of a unit solid of `SOLID_CLASSES`, in its own upright frame.

    Sphere, cube and cylinder are as `sample_shape` draws them (the cylinder without caps); the
    cone and the square pyramid (apex up, base at z = -1) include their bases; the torus has radii 1 and 0.35.
    """
    if name == "sphere":
        points = rng.normal(size=(count, 3))
        return points / np.linalg.norm(points, axis=1, keepdims=True)
    if name == "cube":
        points = rng.uniform(-1, 1, (count, 3))
        axis = rng.integers(0, 3, count)
        points[np.arange(count), axis] = rng.choice([-1.0, 1.0], count)
        return points
    if name == "cylinder":
        angle = rng.uniform(0, 2 * np.pi, count)
        return np.stack([np.cos(angle), np.sin(angle), rng.uniform(-1, 1, count)], axis=1)
    if name == "cone":  # lateral area pi * sqrt(5), base pi
        radius = np.sqrt(rng.uniform(size=count))
        on_base = rng.uniform(size=count) < 1 / (1 + np.sqrt(5))
        angle = rng.uniform(0, 2 * np.pi, count)
        height = np.where(on_base, -1.0, 1.0 - 2.0 * radius)
        return np.stack([radius * np.cos(angle), radius * np.sin(angle), height], axis=1)
    if name == "torus":
        u, v = rng.uniform(0, 2 * np.pi, (2, count))
        ring = 1.0 + 0.35 * np.cos(v)
        return np.stack([ring * np.cos(u), ring * np.sin(u), 0.35 * np.sin(v)], axis=1)
    if name == "pyramid":
        base = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1]], dtype=float)
        apex = np.array([0.0, 0.0, 1.0])
        faces = [(base[i], base[(i + 1) % 4], apex) for i in range(4)] + [(base[0], base[1], base[2]),
                                                                          (base[0], base[2], base[3])]
        return _triangle_points(np.array(faces), count, rng)
    raise ValueError(f"Unknown shape {name!r}. Valid: {', '.join(SOLID_CLASSES)}")


def sample_shape(name: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` points on the surface of a unit sphere, cube or cylinder, randomly rotated about z."""
    if name not in SHAPE_CLASSES:
        raise ValueError(f"Unknown shape {name!r}. Valid: {', '.join(SHAPE_CLASSES)}")
    points = surface_points(name, count, rng)
    theta = rng.uniform(0, 2 * np.pi)
    rotation = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    return (points @ rotation.T * rng.uniform(0.5, 2.0) + rng.normal(0, 0.01, (count, 3))).astype(np.float32)


def random_rotation_matrix(rng: np.random.Generator) -> np.ndarray:
    """A rotation drawn uniformly from SO(3) (QR of a Gaussian matrix, signs fixed, determinant +1)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def rotated_shape(name: str, count: int, rng: np.random.Generator, axis_scale=(0.7, 1.4), pose: str = "so3") -> np.ndarray:
    """A solid of `SOLID_CLASSES` as a scanner might deliver it: `count` surface points, each axis
    scaled by its own factor from `axis_scale`, posed ("so3": any rotation; "z": about the up axis;
    "none": upright), shifted and scaled by a random amount, with 1% noise."""
    points = surface_points(name, count, rng) * rng.uniform(*axis_scale, 3)
    if pose == "so3":
        points = points @ random_rotation_matrix(rng).T
    elif pose == "z":
        theta = rng.uniform(0, 2 * np.pi)
        points = points @ np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]]).T
    elif pose != "none":
        raise ValueError(f"Unknown pose {pose!r}. Valid: so3, z, none")
    points = points + rng.normal(0, 0.01, points.shape)
    return (points * rng.uniform(0.5, 5.0) + rng.normal(0, 3.0, 3)).astype(np.float32)


def write_points_folder(root: str, per_class: int = 10, counts=(60, 300), seed: int = 0) -> list[str]:
    """Sphere / cube / cylinder surface samples, cycling through .npy, .xyz, .ply and .off files."""
    rng = np.random.default_rng(seed)
    for name in SHAPE_CLASSES:
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            points = sample_shape(name, int(rng.integers(*counts)), rng)
            write_point_file(os.path.join(root, name, f"{i:03d}"), points, (".npy", ".xyz", ".ply", ".off")[i % 4])
    return list(SHAPE_CLASSES)


def write_rotated_shapes_folder(root: str, per_class: int = 40, counts=(100, 1000), classes=SOLID_CLASSES,
                                pose: str = "so3", seed: int = 0) -> list[str]:
    """`rotated_shape` clouds of `classes` with `counts[0]` to `counts[1]` points, cycling through
    .npy, .xyz, .ply and .off files (the task suite's rotated 3-D shapes)."""
    rng = np.random.default_rng(seed)
    for name in classes:
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            points = rotated_shape(name, int(rng.integers(*counts)), rng, pose=pose)
            write_point_file(os.path.join(root, name, f"{i:03d}"), points, (".npy", ".xyz", ".ply", ".off")[i % 4])
    return list(classes)


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


def write_sensor_folder(root: str, per_class: int = 10, num_channels: int = 6, steps=(48, 64), seed: int = 0) -> list[str]:
    """Simulated wearable recordings (`sensors.simulate_accelerometer`: rest, walk, run, jump) of varying
    length, alternating CSV files (with a header row) and `.npy` arrays `(T, C)`."""
    from perceiver_tf.data.sensors import ACTIVITY_CLASS_NAMES, simulate_accelerometer

    rng = np.random.default_rng(seed)
    header = ",".join(f"channel_{c}" for c in range(num_channels))
    written = {name: 0 for name in ACTIVITY_CLASS_NAMES}
    while min(written.values()) < per_class:
        length = int(rng.integers(steps[0], steps[1] + 1))
        (series,), (label,) = simulate_accelerometer(1, num_steps=length, num_channels=num_channels,
                                                     seed=int(rng.integers(1 << 31)))
        name = ACTIVITY_CLASS_NAMES[label]
        if written[name] == per_class:
            continue
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        stem = os.path.join(folder, f"{written[name]:03d}")
        if written[name] % 2:
            np.save(stem + ".npy", series)
        else:
            np.savetxt(stem + ".csv", series, delimiter=",", header=header, comments="", fmt="%.5f")
        written[name] += 1
    return sorted(ACTIVITY_CLASS_NAMES)


#: Frequency-coded sensor classes: the tone each recording's channels carry, in Hz.
FREQUENCY_CLASSES = {"1hz": 1.0, "2.5hz": 2.5, "4hz": 4.0}


def frequency_recordings(num_examples: int, num_channels: int = 6, steps=(90, 130), sampling_rate: float = 25.0,
                         noise: float = 0.3, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Noisy sinusoids whose frequency is the class (`FREQUENCY_CLASSES`: 1 / 2.5 / 4 Hz at 25 Hz).

    Every channel has its own random phase and amplitude (0.5-2) and Gaussian noise; recordings have
    a random length in `steps` (inclusive). Nothing but the frequency tells the classes apart: no
    offset, no amplitude and no length differ between them on average, so a model must read the
    local shape of the signal over several steps (per-step tokens give it one value per channel).

    Returns:
        `(recordings, labels)`: a list of float32 `(T_i, num_channels)` arrays and int32 labels
        (indices into `FREQUENCY_CLASSES`), the classes in turn.
    """
    rng = np.random.default_rng(seed)
    frequencies = list(FREQUENCY_CLASSES.values())
    labels = np.arange(num_examples, dtype=np.int32) % len(frequencies)
    recordings = []
    for label in labels:
        t = np.arange(int(rng.integers(steps[0], steps[1] + 1)))[:, None] / sampling_rate
        amplitude = rng.uniform(0.5, 2.0, num_channels)
        phase = rng.uniform(0, 2 * np.pi, num_channels)
        wave = amplitude * np.sin(2 * np.pi * frequencies[label] * t + phase)
        recordings.append((wave + rng.normal(0, noise, wave.shape)).astype(np.float32))
    return recordings, labels


def write_frequency_folder(root: str, per_class: int = 30, seed: int = 0, **kwargs) -> list[str]:
    """`frequency_recordings` as CSV files `root/<class>/NNN.csv` (`kwargs`: its other arguments)."""
    recordings, labels = frequency_recordings(per_class * len(FREQUENCY_CLASSES), seed=seed, **kwargs)
    names = list(FREQUENCY_CLASSES)
    for index, (series, label) in enumerate(zip(recordings, labels)):
        folder = os.path.join(root, names[label])
        os.makedirs(folder, exist_ok=True)
        np.savetxt(os.path.join(folder, f"{index // len(names):03d}.csv"), series, delimiter=",", fmt="%.5f")
    return sorted(names)


#: Audio + video classes: (tone in Hz, brightness change over the clip).
AUDIO_VIDEO_CLASSES = {"low_brightening": (330.0, 1.0), "high_darkening": (2200.0, -1.0)}


def write_audio_video_folder(root: str, per_class: int = 8, frames: int = 6, size: int = 8, rate: int = 8000,
                             seed: int = 0) -> list[str]:
    """Clip folders `root/<class>/<clip>/` with `audio.wav` and the frames, as PNG files (even clips) or
    one `video.npy` (odd clips): the class is both the tone and whether the clip brightens or darkens."""
    rng = np.random.default_rng(seed)
    for name, (frequency, direction) in AUDIO_VIDEO_CLASSES.items():
        for i in range(per_class):
            clip = os.path.join(root, name, f"clip_{i:03d}")
            os.makedirs(clip, exist_ok=True)
            t = np.arange(int(rate * rng.uniform(0.3, 0.5))) / rate
            tone = 0.5 * np.sin(2 * np.pi * frequency * rng.uniform(0.97, 1.03) * t) + rng.normal(0, 0.05, len(t))
            tf.io.write_file(os.path.join(clip, "audio.wav"),
                             tf.audio.encode_wav(np.clip(tone, -1, 1)[:, None].astype(np.float32), rate))
            level = 0.5 + 0.3 * direction * np.linspace(-1, 1, frames)
            video = np.clip(level[:, None, None, None] + rng.normal(0, 0.1, (frames, size, size, 1)), 0, 1)
            pixels = np.round(video * 255).astype(np.uint8)
            if i % 2:
                np.save(os.path.join(clip, "video.npy"), pixels)
            else:
                for f, frame in enumerate(pixels):
                    tf.io.write_file(os.path.join(clip, f"frame_{f:02d}.png"), tf.io.encode_png(frame))
    return sorted(AUDIO_VIDEO_CLASSES)


MULTI_LABEL_CLASSES = ("tone_x", "tone_y", "tone_z")


def write_multi_label_manifest(root: str, count: int = 60, steps: int = 32, seed: int = 0) -> str:
    """Three-channel recordings (CSV) where channel k carries a tone exactly when label k is on (any subset,
    none included), listed in `root/labels.csv` (`file,labels`). Returns the manifest's path."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "recordings"), exist_ok=True)
    t = np.arange(steps) / steps
    rows = ["file,labels"]
    for i in range(count):
        on = rng.random(len(MULTI_LABEL_CLASSES)) < 0.5
        tone = np.sin(2 * np.pi * 6 * t[:, None] + rng.uniform(0, 2 * np.pi, len(on)))
        series = on * tone + rng.normal(0, 0.3, (steps, len(on)))
        name = os.path.join("recordings", f"{i:03d}.csv")
        np.savetxt(os.path.join(root, name), series, delimiter=",", fmt="%.5f")
        rows.append(f"{name},{';'.join(c for c, k in zip(MULTI_LABEL_CLASSES, on) if k)}")
    path = os.path.join(root, "labels.csv")
    with open(path, "w") as handle:
        handle.write("\n".join(rows) + "\n")
    return path
