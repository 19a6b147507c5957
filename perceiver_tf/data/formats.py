"""File extensions per modality, and modality detection from a list of files."""

from __future__ import annotations

import os
from collections import Counter

#: Lower-case extensions (with the dot) that each folder modality reads.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image": (".png", ".jpg", ".jpeg", ".bmp", ".gif"),
    "audio": (".wav", ".flac", ".mp3", ".ogg"),
    "points": (".npy", ".npz", ".ply", ".off", ".xyz", ".txt"),
}
MODALITIES = tuple(EXTENSIONS)


def modality_of(path: str) -> str | None:
    """The modality a file's extension belongs to, or `None` for an unsupported extension."""
    extension = os.path.splitext(path)[1].lower()
    for modality, extensions in EXTENSIONS.items():
        if extension in extensions:
            return modality
    return None


def detect_modality(paths: list[str], modality: str | None = None) -> str:
    """The one modality of `paths` (by extension), or check the given `modality` is valid.

    Raises:
        ValueError: an unknown `modality`, no supported file, or several modalities mixed
            without `modality` to choose one.
    """
    if modality is not None:
        if modality not in MODALITIES:
            raise ValueError(f"Unknown modality {modality!r}. Valid: {', '.join(MODALITIES)}")
        return modality
    counts = Counter(m for m in map(modality_of, paths) if m is not None)
    if not counts:
        extensions = sorted({os.path.splitext(p)[1].lower() or "(none)" for p in paths})
        raise ValueError(
            f"No supported files found (extensions seen: {', '.join(extensions)}). Supported: "
            + "; ".join(f"{m}: {' '.join(e)}" for m, e in EXTENSIONS.items())
        )
    if len(counts) > 1:
        found = ", ".join(f"{n} {m}" for m, n in counts.most_common())
        raise ValueError(f"Files of several modalities found ({found}); choose one with --modality.")
    return next(iter(counts))
