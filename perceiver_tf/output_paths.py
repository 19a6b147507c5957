"""Check where a command will write before it does any work: an output that cannot be written is
one `error:` line at start-up, not a traceback after minutes of training."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from perceiver_tf.errors import OptionError, PerceiverError


def writable_directory(path: str | os.PathLike, flag: str) -> Path:
    """`path` as a directory that exists (created with its parents) and accepts new files.

    Raises:
        OptionError: `path` (or a parent) is an existing file.
        PerceiverError: it cannot be created or written (permissions, read-only file system).
    """
    path = Path(path)
    blocking = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise OptionError(f"{flag} {str(path)!r} needs a directory, but {str(blocking)!r} is a file; "
                         f"pass another {flag}.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise PerceiverError(f"{flag} {str(path)!r} is not writable ({error.strerror or error}); "
                           f"fix its permissions or pass another {flag}.") from error
    return path


def writable_file(path: str | os.PathLike, flag: str) -> Path:
    """`path` as a file that can be written (its directory exists and accepts files; it is not a directory).

    Raises:
        OptionError: `path` is a directory, or a parent is a file.
        PerceiverError: its directory cannot be created or written.
    """
    path = Path(path)
    if path.is_dir():
        raise OptionError(f"{flag} {str(path)!r} is a directory; pass a file name, e.g. {str(path / 'out')!r}.")
    writable_directory(path.parent, f"the directory of {flag}")
    if path.exists() and not os.access(path, os.W_OK):
        raise PerceiverError(f"{flag} {str(path)!r} exists and is read-only; pass another {flag}.")
    return path
