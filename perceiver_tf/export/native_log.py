"""Keep native (C++) log lines out of the user's terminal unless asked for.

The TFLite converter writes a dozen absl/MLIR lines straight to file descriptor 2 ("Ignored
output_format", "Estimated count of arithmetic ops", ...), below Python's `sys.stderr`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def native_stderr_captured(show: bool = False):
    """Send what is written to file descriptor 2 while the block runs into a temporary file, and
    replay it to `sys.stderr` afterwards when `show` or when the block raises (the log then helps)."""
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
            if show:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace"))
                sys.stderr.flush()
