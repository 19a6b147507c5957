"""Files no reader ever sees half-written, and the temporaries a killed writer leaves behind.

`replace_atomically` writes through a temporary sibling `.tmp-<pid>-<name>` and renames it over the
target; a process killed mid-write leaves only that temporary, which `remove_orphaned_temporaries`
deletes once its process is gone. Used by training (checkpoints, history, metrics), the checkpoint
converter and the JSON the CLI prints; `perceiver_tf.export.atomic` builds export folders on it.
It imports neither Keras nor TensorFlow itself.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path

#: `replace_atomically`'s temporaries: `.tmp-<pid>-<name>`.
_TEMPORARY = re.compile(r"^\.tmp-(?P<pid>\d+)-(?P<name>.+)$")
#: `perceiver_tf.export.atomic`'s temporaries (`.tmp-<name>-pid<pid>@<host>`), which it cleans itself.
_EXPORT_TEMPORARY = re.compile(r"-pid\d+@[^@/]+$")


def temporary_path(path: Path) -> Path:
    """The temporary sibling `replace_atomically` writes `path` under in this process."""
    path = Path(path)
    return path.with_name(f".tmp-{os.getpid()}-{path.name}")


def remove_path(path: Path) -> None:
    """Delete a file or a folder tree, whichever `path` is; nothing when it is gone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def replace_atomically(path: Path, write) -> None:
    """Call `write(tmp_path)` then rename it over `path`: readers never see a partial file.

    The temporary name keeps `path`'s suffixes (Keras checks `.keras` / `.weights.h5`). When
    `write` (or the rename) fails, the temporary is deleted and `path` is untouched.
    """
    path = Path(path)
    tmp = temporary_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        remove_path(tmp)
        raise


def process_running(pid: int) -> bool:
    """Whether a process with this id exists on this host (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def remove_orphaned_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the `replace_atomically` temporaries in `folder` whose process is no longer running.

    A live pid keeps its temporary, even when the pid now belongs to an unrelated process (a
    leftover is harmless; deleting a running writer's file is not).

    Returns:
        The removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    orphaned = []
    for path in sorted(folder.iterdir()):
        match = _TEMPORARY.match(path.name)
        if match and not _EXPORT_TEMPORARY.search(path.name) and not process_running(int(match["pid"])):
            remove_path(path)
            orphaned.append(path)
    return orphaned


def finite_json(value):
    """`value` with every NaN or infinite float (in nested dicts, lists and tuples) replaced by `None`."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(item) for item in value]
    return value


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write strict JSON atomically (temporary file + rename); NaN and infinities are written as `null`."""
    text = json.dumps(finite_json(payload), indent=2, sort_keys=True, allow_nan=False)
    replace_atomically(path, lambda tmp: Path(tmp).write_text(text))
