"""One training run per output directory: an exclusive `flock` on `output_dir/.lock`.

The lock file holds its holder's pid, host, start time and command line, so a second run is
refused at once with a message naming the run in its way. The kernel releases a `flock` when its
holder dies (even by SIGKILL), so a killed run never blocks the next one. A run that leaves nothing
else in the directory (it failed before writing a file) removes the lock file on release, while
still holding it; a run that locked a file just unlinked that way sees that the path no longer
names its file and locks the new one instead, so two runs never hold two files of the same name.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import shlex
import socket
import sys
from pathlib import Path

#: The lock file inside the output directory.
LOCK_FILE = ".lock"
#: The longest command line quoted in an error message.
MAX_COMMAND_CHARS = 200


#: The locks this process holds: `{real path of the lock file: [open file, number of holders]}`.
_HELD: dict[str, list] = {}


class OutputDirectoryError(ValueError):
    """An output directory this run must not write: in use by another run, or holding another
    run's backup. The message is one line naming the cause and what to do."""


def holder_description(holder: dict | None) -> str:
    """`pid 4242 on host h, started 2026-12-03T06:00:00, `perceiver-tf train ...``, from a lock file's record."""
    if not holder:
        return "holder unknown"
    argv = list(holder.get("command") or [])
    command = shlex.join([os.path.basename(argv[0]), *argv[1:]]) if argv else "?"
    if len(command) > MAX_COMMAND_CHARS:
        command = command[: MAX_COMMAND_CHARS - 3] + "..."
    return f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')}, `{command}`"


def read_holder(output_dir: str | os.PathLike) -> dict | None:
    """The record of the run holding (or last holding) the lock of `output_dir`; `None` if none is readable."""
    try:
        return json.loads((Path(output_dir) / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return None


class RunLock:
    """An exclusive, non-blocking lock on an output directory (a context manager).

    Exclusive between processes, re-entrant within one: a `RunLock` on a directory this process
    has locked already shares that hold (the CLI locks before it loads the data, `train_classifier`
    again), and the lock is released when the last of them is.

    Example:
        >>> with RunLock("runs/x"):  # doctest: +SKIP
        ...     train()

    Raises (on entry / `acquire`):
        OutputDirectoryError: another process holds the lock; the message names it.
    """

    def __init__(self, output_dir: str | os.PathLike):
        self.output_dir = Path(output_dir)
        self.path = self.output_dir / LOCK_FILE
        self._key = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._key is not None

    def acquire(self) -> RunLock:
        """Take the lock and write this process's record into the lock file."""
        if self.held:
            return self
        self.output_dir.mkdir(parents=True, exist_ok=True)
        key = os.path.realpath(self.path)
        if key in _HELD:  # this process holds it already
            _HELD[key][1] += 1
            self._key = key
            return self
        file = self._lock_file()
        file.truncate(0)
        json.dump(_this_process(), file)
        file.flush()
        _HELD[key] = [file, 1]
        self._key = key
        return self

    def _lock_file(self):
        """The lock file, opened and `flock`ed: retried while the file it locked was unlinked meanwhile
        by a holder that left the directory empty (`release`)."""
        while True:
            file = open(self.path, "a+")  # noqa: SIM115 (kept open while held); "a+": never truncate a holder's record
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _names_open_file(self.path, file):
                    return file
                file.close()
            except BlockingIOError:
                file.close()
                raise OutputDirectoryError(
                    f"output directory {self.output_dir} is in use by another training run "
                    f"({holder_description(read_holder(self.output_dir))}); wait for it to finish or choose "
                    "another --output-dir"
                ) from None
            except BaseException:
                file.close()
                raise

    def release(self) -> None:
        """Let go of the hold; the last holder in this process empties the record and releases the lock."""
        if not self.held:
            return
        key, self._key = self._key, None
        _HELD[key][1] -= 1
        if _HELD[key][1]:  # another holder in this process keeps it
            return
        file = _HELD.pop(key)[0]
        try:
            file.truncate(0)
            if [p.name for p in self.output_dir.iterdir()] == [LOCK_FILE]:  # nothing else: leave no trace
                self.path.unlink(missing_ok=True)
            fcntl.flock(file, fcntl.LOCK_UN)
        finally:
            file.close()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


def _names_open_file(path: Path, file) -> bool:
    """Whether `path` is (still) the file `file` has open."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(file.fileno())
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _this_process() -> dict:
    """The lock file's record of the current process."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": sys.argv,
    }
