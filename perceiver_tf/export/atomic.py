"""Publish exports atomically: a reader (TF Serving, a TFLite loader) sees all of an export or nothing.

An export (a SavedModel directory, a `.tflite` file) is written under a hidden sibling name
`.tmp-<name>-pid<pid>@<host>`, fsynced (every file and directory in it), then renamed onto its
target in one `os.rename` and the parent directory is fsynced. TF Serving ignores the temporary
(its name is not a version number) and so does `next_version`.

A process killed mid-write (even by SIGKILL) leaves only its temporary behind.
`remove_stale_temporaries` deletes such leftovers when the next export starts:

- one of this host whose process is no longer running. A live pid keeps its temporary, even
  when the pid has been reused by an unrelated process (conservative: a leftover is harmless,
  deleting a running export's output is not);
- one with this process's own pid that this process is not writing: an earlier process had the
  same pid (a restarted container often does), so the target stays writable after a kill;
- one of another host (a shared file system), whose process cannot be checked from here, once
  nothing in it has changed for `FOREIGN_STALE_AFTER_S` seconds.

One process writes a given target from one thread at a time.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

from perceiver_tf.files import process_running, remove_path

#: Seconds without a change after which another host's temporary counts as abandoned.
FOREIGN_STALE_AFTER_S = 3600.0
_TEMPORARY = re.compile(r"^\.tmp-(?P<name>.+)-pid(?P<pid>\d+)@(?P<host>[^@/]+)$")
#: The temporaries this process is writing now (absolute paths); other ones with its pid are stale.
_WRITING: set[Path] = set()


def temporary_name(name: str) -> str:
    """The hidden sibling name this process writes `name` under, e.g. `.tmp-1-pid4242@host`."""
    return f".tmp-{name}-pid{os.getpid()}@{socket.gethostname()}"


def _last_change(root: Path) -> float:
    """The newest modification time of `root` and everything under it (seconds since the epoch)."""
    times = [root.stat().st_mtime]
    for directory, _, files in os.walk(root):
        times += [os.stat(os.path.join(directory, name)).st_mtime for name in files]
    return max(times)


def is_stale(path: Path, now: float | None = None) -> bool:
    """Whether `path` is a temporary of `temporary_name` whose writer is gone (see the module docstring)."""
    match = _TEMPORARY.match(path.name)
    if match is None:
        return False
    if match["host"] == socket.gethostname():
        pid = int(match["pid"])
        return path.absolute() not in _WRITING if pid == os.getpid() else not process_running(pid)
    return (time.time() if now is None else now) - _last_change(path) > FOREIGN_STALE_AFTER_S


def remove_stale_temporaries(parent: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Delete the stale temporaries (files or directories) in `parent`, of target `name` only when given.

    Returns:
        The removed paths.
    """
    parent = Path(parent)
    if not parent.is_dir():
        return []
    stale = [path for path in sorted(parent.iterdir())
             if is_stale(path) and (name is None or _TEMPORARY.match(path.name)["name"] == name)]
    for path in stale:
        remove_path(path)
    return stale


@contextlib.contextmanager
def _writing(temporary: Path):
    """The block writes `temporary`: `is_stale` keeps it meanwhile, and any failure deletes it."""
    _WRITING.add(temporary.absolute())
    try:
        yield
    except BaseException:
        remove_path(temporary)
        raise
    finally:
        _WRITING.discard(temporary.absolute())


def _fsync(path: str | os.PathLike) -> None:
    """Flush a file's or a directory's contents to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_tree(root: Path) -> None:
    """fsync every file and directory under `root`, `root` included (children before parents)."""
    for directory, _, files in os.walk(root, topdown=False):
        for name in files:
            _fsync(os.path.join(directory, name))
        _fsync(directory)


def publish_directory(target: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(folder)` on a fresh temporary folder, then rename it to `target` atomically.

    Stale temporaries of `target` are removed first. On any failure (or interrupt) the temporary
    is deleted and `target` is untouched.

    Returns:
        `target`.

    Raises:
        ValueError: `target` exists, before or after the write (another export took it meanwhile).
    """
    target = Path(target)
    refused = f"{target} already exists; remove it or choose another path (nothing was overwritten)."
    if target.exists():
        raise ValueError(refused)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target.parent, target.name)
    folder = target.with_name(temporary_name(target.name))
    with _writing(folder):
        folder.mkdir()
        write(folder)
        fsync_tree(folder)
        if target.exists():  # os.rename would replace an empty directory silently
            raise ValueError(refused)
        try:
            os.rename(folder, target)
        except OSError as error:  # a non-empty directory or a file appeared at `target`
            raise ValueError(refused) from error
    _fsync(target.parent)
    return target


def write_bytes_atomic(path: str | os.PathLike, content: bytes) -> Path:
    """Write `content` to `path` through an fsynced temporary file renamed over it.

    Stale temporaries of `path` are removed first. A failure leaves `path` as it was (absent, or
    its previous contents) and no temporary.

    Returns:
        `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, path.name)
    temporary = path.with_name(temporary_name(path.name))
    with _writing(temporary):
        with open(temporary, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    _fsync(path.parent)
    return path


def swap_directory(staged: Path, target: Path) -> None:
    """Put the complete folder `staged` in the place of the existing `target`, then delete the old one.

    `target` is missing only between two renames (never half-written); the old folder waits under a
    temporary name that `remove_stale_temporaries` clears should this process die before deleting it.
    """
    old = target.with_name(temporary_name(f"replaced-{target.name}"))
    os.rename(target, old)
    os.rename(staged, target)
    _fsync(target.parent)
    remove_path(old)
