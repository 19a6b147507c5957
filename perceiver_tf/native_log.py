"""Keep native (C++) log lines out of the user's terminal unless asked for.

TensorFlow writes absl log lines straight to file descriptor 2, below Python's `sys.stderr`: at
import ("oneDNN custom operations are on", the CPU-feature guard, cuDNN factory registrations),
and the TFLite converter a dozen more ("Ignored output_format", "Estimated count of arithmetic ops").
`native_stderr_captured` holds them back; `quiet_tensorflow_import` applies it to TensorFlow's import.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable

#: A native log line: absl's `I1207 13:54:03.123 ...` / `W0000 00:00:...`, its preamble, and the
#: CPU-feature guard's second line.
NATIVE_LOG_LINE = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl::InitializeLog"
                             r"|To enable the following instructions: ")


@contextlib.contextmanager
def native_stderr_captured(show: bool = False, keep: Callable[[str], bool] | None = None):
    """Send what is written to file descriptor 2 while the block runs into a temporary file, and
    replay it to `sys.stderr` afterwards: all of it when `show` or when the block raises (the log then
    helps), else only the lines `keep` accepts (none without `keep`)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            show = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            lines = log.read().decode(errors="replace").splitlines(keepends=True)
            replayed = lines if show else [line for line in lines if keep is not None and keep(line)]
            if replayed:
                sys.stderr.write("".join(replayed))
                sys.stderr.flush()


def not_native_log(line: str) -> bool:
    """Whether `line` is something other than a native log line (e.g. a Python warning): kept."""
    return not NATIVE_LOG_LINE.match(line)


def quiet_tensorflow_import() -> contextlib.AbstractContextManager:
    """What TensorFlow's first import runs inside (`perceiver_tf/__init__.py`): its native start-up
    lines held back, anything else shown (and everything, should the import fail)."""
    return native_stderr_captured(keep=not_native_log)
