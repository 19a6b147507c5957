"""Scan a class-per-sub-folder directory into labelled train / validation file lists."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from perceiver_tf.data.formats import detect_modality, modalities_of
from perceiver_tf.data.splits import stratified_split

#: Sub-directory names accepted as the held-out split next to `train/` (first found wins).
VALIDATION_DIR_NAMES = ("val", "validation", "test")


@dataclass
class LabelledFiles:
    """File paths with integer labels into `class_names`."""

    paths: list[str]
    labels: list[int]


@dataclass
class FolderIndex:
    """A scanned folder: its classes, modality, splits and the files it could not use."""

    class_names: list[str]
    modality: str
    train: LabelledFiles
    val: LabelledFiles
    unsupported: list[str] = field(default_factory=list)
    explicit_val: bool = False


def _list_classes(root: str) -> dict[str, list[str]]:
    """`{class name: sorted file paths}` for each sub-folder of `root` (hidden entries skipped)."""
    classes = {}
    for name in sorted(os.listdir(root)):
        class_dir = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(class_dir):
            continue
        files = []
        for dirpath, dirnames, filenames in os.walk(class_dir):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            files.extend(os.path.join(dirpath, f) for f in sorted(filenames) if not f.startswith("."))
        classes[name] = files
    return classes


def _list_examples(root: str) -> dict[str, list[str]]:
    """`{class name: sorted example folders}` for an audio + video folder (`root/<class>/<clip>/`)."""
    classes = {}
    for name in sorted(os.listdir(root)):
        class_dir = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(class_dir):
            continue
        classes[name] = [os.path.join(class_dir, d) for d in sorted(os.listdir(class_dir))
                         if not d.startswith(".") and os.path.isdir(os.path.join(class_dir, d))]
    return classes


def _holds_clips(where: str, classes: dict[str, list[str]]) -> bool:
    """True for the audio + video layout: class folders hold only clip folders, the first with a sound
    file and frames (or a `.npy` video)."""
    class_dir = os.path.join(where, next(iter(classes)))
    entries = sorted(e for e in os.listdir(class_dir) if not e.startswith("."))
    if not entries or not all(os.path.isdir(os.path.join(class_dir, e)) for e in entries):
        return False
    files = os.listdir(os.path.join(class_dir, entries[0]))
    return any("audio" in modalities_of(f) for f in files) and any(modalities_of(f) - {"audio"} for f in files)


def _labelled(classes: dict[str, list[str]], class_names: list[str]) -> LabelledFiles:
    paths, labels = [], []
    for name, files in classes.items():
        paths.extend(files)
        labels.extend([class_names.index(name)] * len(files))
    return LabelledFiles(paths, labels)


def scan_folder(
    root: str,
    modality: str | None = None,
    validation_fraction: float = 0.2,
    seed: int = 0,
    skip_bad_files: bool = False,
) -> FolderIndex:
    """Index `root/<class>/<files>`, or `root/train/<class>/...` + `root/val|validation|test/<class>/...`.

    For audio + video the examples are clip folders, `root/<class>/<clip>/` (see `audio_video.py`),
    detected from that layout or chosen with `modality="audio_video"`.

    Without a held-out sub-directory, a seeded stratified `validation_fraction` of each class
    is held out. Files whose extension is not of the (detected or given) modality are an error
    listing them, or are dropped and reported in `unsupported` when `skip_bad_files`.

    Raises:
        ValueError: a missing/empty folder, fewer than two classes, a class without files,
            unsupported files (unless skipped), or mixed modalities.
    """
    if not os.path.isdir(root):
        raise ValueError(f"--data folder {root!r} does not exist or is not a directory.")
    train_root = os.path.join(root, "train")
    val_root = next(
        (os.path.join(root, d) for d in VALIDATION_DIR_NAMES if os.path.isdir(os.path.join(root, d))), None
    )
    has_splits = os.path.isdir(train_root) and val_root is not None
    train_classes = _list_classes(train_root if has_splits else root)
    val_classes = _list_classes(val_root) if has_splits else {}
    where = train_root if has_splits else root
    if not train_classes:
        raise ValueError(
            f"{where!r} has no class sub-folders: expected {where}/<class name>/<files> with one "
            "sub-folder per class."
        )
    if len(train_classes) < 2:
        raise ValueError(
            f"{where!r} has a single class ({next(iter(train_classes))!r}); a classifier needs at "
            "least 2 class sub-folders."
        )
    if modality == "audio_video" or (modality is None and _holds_clips(where, train_classes)):
        # Examples are clip folders (audio_video.py); their contents are checked when decoded.
        modality, unsupported = "audio_video", []
        train_classes = _list_examples(where)
        val_classes = _list_examples(val_root) if has_splits else {}
    else:
        all_files = [f for files in (*train_classes.values(), *val_classes.values()) for f in files]
        modality = detect_modality(all_files, modality)
        unsupported = sorted(f for f in all_files if modality not in modalities_of(f))
        if unsupported and not skip_bad_files:
            shown = "\n  ".join(unsupported[:20])
            raise ValueError(
                f"{len(unsupported)} file(s) are not {modality} files (by extension); remove them or pass "
                f"--skip-bad-files:\n  {shown}"
            )
        keep = lambda classes: {c: [f for f in fs if modality in modalities_of(f)] for c, fs in classes.items()}  # noqa: E731
        train_classes, val_classes = keep(train_classes), keep(val_classes)
    empty = [c for c, files in train_classes.items() if not files]
    if empty:
        raise ValueError(f"Class folder(s) without {modality} files in {where!r}: {', '.join(empty)}")
    class_names = list(train_classes)
    unknown = sorted(set(val_classes) - set(class_names))
    if unknown:
        raise ValueError(f"{val_root!r} has classes missing from {train_root!r}: {', '.join(unknown)}")
    if has_splits:
        train, val = _labelled(train_classes, class_names), _labelled(val_classes, class_names)
    else:
        everything = _labelled(train_classes, class_names)
        train_index, val_index = stratified_split(everything.labels, validation_fraction, seed)
        pick = lambda index: LabelledFiles(  # noqa: E731
            [everything.paths[i] for i in index], [everything.labels[i] for i in index]
        )
        train, val = pick(train_index), pick(val_index)
    if not val.paths:
        raise ValueError(f"No validation files: every class in {where!r} has a single file.")
    return FolderIndex(class_names, modality, train, val, unsupported, explicit_val=has_splits)
