"""File extensions per modality, and modality detection from a list of files."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np

from perceiver_tf.option_names import option, option_name

#: Lower-case extensions (with the dot) that each folder modality reads. `.npy` is both a point
#: cloud and a sensor recording: a folder of `.npy` files alone needs the `modality` option.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image": (".png", ".jpg", ".jpeg", ".bmp", ".gif"),
    "audio": (".wav", ".flac", ".mp3", ".ogg", ".opus"),
    "points": (".npy", ".npz", ".ply", ".off", ".xyz", ".txt"),
    "sensors": (".csv", ".npy"),
}
#: Every modality a data source can have; "audio_video" is a folder of example folders (see `folder.py`).
MODALITIES = (*EXTENSIONS, "audio_video")


def as_path(value) -> str:
    """A file path passed through `tf.numpy_function` (bytes, or a 0-d array of bytes) as a `str`."""
    value = value.item() if isinstance(value, np.ndarray) else value
    return value.decode() if isinstance(value, bytes) else str(value)


def modalities_of(path: str) -> set[str]:
    """The modalities a file's extension can belong to (empty for an unsupported extension)."""
    extension = os.path.splitext(path)[1].lower()
    return {modality for modality, extensions in EXTENSIONS.items() if extension in extensions}


def check_modality(modality: str) -> str:
    """Return `modality` if it is known, else raise a ValueError listing the valid ones."""
    if modality not in MODALITIES:
        raise ValueError(f"Unknown modality {modality!r}. Valid: {', '.join(MODALITIES)}")
    return modality


def detect_modality(paths: list[str], modality: str | None = None) -> str:
    """The one modality of `paths` (by extension), or check the given `modality` is valid.

    Extensions that belong to one modality decide; files whose extension fits several
    (`.npy`) follow them. A set of only such files is ambiguous and needs `modality`.

    Raises:
        ValueError: an unknown `modality`, no supported file, several modalities mixed, or
            only ambiguous files, each with the `modality` choices that would resolve it.
    """
    if modality is not None:
        return check_modality(modality)
    candidates = [modalities_of(p) for p in paths]
    if not any(candidates):
        extensions = sorted({os.path.splitext(p)[1].lower() or "(none)" for p in paths})
        raise ValueError(
            f"No supported files found (extensions seen: {', '.join(extensions)}). Supported: "
            + "; ".join(f"{m}: {' '.join(e)}" for m, e in EXTENSIONS.items())
        )
    decided = Counter(next(iter(c)) for c in candidates if len(c) == 1)
    if len(decided) > 1:
        found = ", ".join(f"{n} {m}" for m, n in decided.most_common())
        raise ValueError(f"Files of several modalities found ({found}); choose one with {option_name('modality')}.")
    if not decided:
        ambiguous = sorted(set.union(*[c for c in candidates if c]))
        raise ValueError(
            f"The files' extensions fit several modalities ({', '.join(ambiguous)}): .npy holds point clouds and "
            f"sensor recordings alike. Choose one with {' or '.join(option('modality', m, repr(m)) for m in ambiguous)}."
        )
    return next(iter(decided))
