"""Scan a class-per-sub-folder directory into labelled train / validation file lists."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

from perceiver_tf.data.errors import DataWarning
from perceiver_tf.data.formats import detect_modality, modalities_of
from perceiver_tf.data.splits import stratified_split
from perceiver_tf.option_names import option, option_name

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


def _is_within(path: str, folder: str) -> bool:
    """True when the real path `path` is the real path `folder` or inside it."""
    return os.path.commonpath([path, folder]) == folder


def _skip_link(path: str, why: str) -> None:
    warnings.warn(f"Skipped {path} (a symlink to {os.path.realpath(path)}): {why}.", DataWarning, stacklevel=4)


def _class_dirs(where: str) -> dict[str, str]:
    """`{class name: folder}` of `where`'s sub-folders, sorted by name, hidden ones skipped.

    A symlinked class folder is read like any other (it may point outside the data folder), except
    a link to `where` or one of its ancestors (a loop) or to another class's folder (an alias):
    those are skipped with a `DataWarning`.
    """
    entries = [(name, os.path.join(where, name)) for name in sorted(os.listdir(where))
               if not name.startswith(".") and os.path.isdir(os.path.join(where, name))]
    real_where = os.path.realpath(where)
    owners = {os.path.realpath(path): name for name, path in entries if not os.path.islink(path)}
    classes = {}
    for name, path in entries:
        real = os.path.realpath(path)
        if os.path.islink(path):
            if _is_within(real_where, real):
                _skip_link(path, "it leads back into the folder holding it")
                continue
            if real in owners:
                _skip_link(path, f"the same folder as class {owners[real]!r}")
                continue
            owners[real] = name
        classes[name] = path
    return classes


def _files_under(class_dir: str) -> list[str]:
    """The files under `class_dir`, sorted, hidden ones skipped. Symlinked sub-folders are followed,
    except those leading back to a folder already read or above `class_dir` (skipped with a `DataWarning`)."""
    top, visited, files = os.path.realpath(class_dir), set(), []
    for dirpath, dirnames, filenames in os.walk(class_dir, followlinks=True):
        visited.add(os.path.realpath(dirpath))
        kept = []
        for name in sorted(d for d in dirnames if not d.startswith(".")):
            path = os.path.join(dirpath, name)
            real = os.path.realpath(path)
            if os.path.islink(path) and (real in visited or _is_within(top, real)):
                _skip_link(path, "it leads back to a folder already read (a loop)")
                continue
            kept.append(name)
        dirnames[:] = kept
        files.extend(os.path.join(dirpath, f) for f in sorted(filenames) if not f.startswith("."))
    return files


def _list_classes(root: str) -> dict[str, list[str]]:
    """`{class name: sorted file paths}` for each sub-folder of `root` (see `_class_dirs`, `_files_under`)."""
    return {name: _files_under(class_dir) for name, class_dir in _class_dirs(root).items()}


def _list_examples(root: str) -> dict[str, list[str]]:
    """`{class name: sorted example folders}` for an audio + video folder (`root/<class>/<clip>/`)."""
    return {name: [os.path.join(class_dir, d) for d in sorted(os.listdir(class_dir))
                   if not d.startswith(".") and os.path.isdir(os.path.join(class_dir, d))]
            for name, class_dir in _class_dirs(root).items()}


def _unique(*splits: dict[str, list[str]]) -> list[dict[str, list[str]]]:
    """`splits` (`{class: paths}` of train, and of val) with each real file (or clip folder) kept once.

    Raises:
        ValueError: one real file in two classes or in both splits, naming both paths.
    """
    first: dict[str, tuple[int, str, str]] = {}  # real path -> (split, class, path) where it was first seen
    unique = []
    for split, classes in enumerate(splits):
        kept = {}
        for name, paths in classes.items():
            kept[name] = []
            for path in paths:
                real = os.path.realpath(path)
                seen = first.setdefault(real, (split, name, path))
                if seen == (split, name, path):
                    kept[name].append(path)
                elif seen[:2] != (split, name):
                    raise ValueError(f"{seen[2]} and {path} are the same file ({real}) in two classes or splits; "
                                     "an example must be in one class of one split: remove one of them.")
        unique.append(kept)
    return unique


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

    Symlinks: a symlinked class folder may point anywhere outside the data folder; links that lead
    back into a folder being read (a loop) or to another class's folder (an alias) are skipped
    with a `DataWarning`. A file reached twice in one class counts once.

    Raises:
        ValueError: a missing/empty folder, fewer than two classes, a class without files,
            unsupported files (unless skipped), mixed modalities, or one file (by its real path)
            in two classes or in both splits.
    """
    if not os.path.isdir(root):
        raise ValueError(f"{option_name('data')} folder {root!r} does not exist or is not a directory.")
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
                f"{option('skip_bad_files')}:\n  {shown}"
            )
        keep = lambda classes: {c: [f for f in fs if modality in modalities_of(f)] for c, fs in classes.items()}  # noqa: E731
        train_classes, val_classes = keep(train_classes), keep(val_classes)
    train_classes, val_classes = _unique(train_classes, val_classes)
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
