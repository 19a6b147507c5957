"""How `cli.main` reports a failure: one `error:` line (`perceiver_tf.errors` names the user's own).

Light to import (TensorFlow loads only when an error or warning is reported): `perceiver-tf --help`
reads this module."""

from __future__ import annotations

import sys
import warnings

from perceiver_tf.errors import PerceiverError

#: What a full disk means for each command's files, after "free space or ...".
_DISK_FULL_WAY_ON = {
    "train": "pass another --output-dir; rerunning the same command resumes from the last completed epoch",
    "export": "pass another --output; nothing was half-written",
    "attention": "pass another --out",
    "convert": "pass another --output",
}


def disk_full(error: BaseException) -> bool:
    """Whether `error` is a write that failed for lack of disk space (an `OSError` or TensorFlow's error)."""
    import errno

    return getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in str(error)


def report(error: BaseException, command: str | None = None, output: str | None = None) -> int:
    """Print `error` as one `error:` line on stderr (followed by the lines it lists, such as the files
    that could not be read); return the exit status.

    Our own errors (`PerceiverError`) and the library's documented ones (`ValueError` naming the
    problem, `OSError` naming the path) and running out of memory or disk space are the user's to fix;
    anything else is a bug in perceiver_tf, reported as such with the way to see its traceback.

    Args:
        error: what the command raised.
        command: the subcommand that failed (`"train"`, ...): what a full disk means for it.
        output: where the command writes, named when the disk fills and the error does not say.
    """
    if isinstance(error, KeyboardInterrupt):
        print("error: interrupted", file=sys.stderr)
        return 130
    from perceiver_tf.backend_support import missing_package_hint
    from perceiver_tf.data.errors import error_reason

    hint = missing_package_hint(error)
    if hint is not None:  # e.g. `perceiver-tf train` (tf.data) in a JAX-only environment
        print(f"error: {hint}", file=sys.stderr)
        return 1
    message = error_reason(error)
    if disk_full(error):
        path = getattr(error, "filename", None) or output
        where = f" writing {path}" if path and str(path) not in message else ""
        way_on = _DISK_FULL_WAY_ON.get(command, "write somewhere else")
        print(f"error: the disk is full{where} ({message}); free space or {way_on}", file=sys.stderr)
        return 1
    if isinstance(error, (PerceiverError, ValueError, OSError)):
        print(f"error: {message}", *listed_lines(error), sep="\n", file=sys.stderr)
        return error.exit_code if isinstance(error, PerceiverError) else 1
    if isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError":  # tf.errors' OOM
        print(f"error: out of memory ({message}); use a smaller --batch-size or --preset", file=sys.stderr)
        return 1
    print(f"error: internal error ({type(error).__name__}: {message}); rerun with --debug for the traceback "
          "and please report it", file=sys.stderr)
    return 1


def listed_lines(error: BaseException) -> list[str]:
    """The indented lines under an error's first line: what it lists, e.g. the files that could not be
    decoded with their reasons (`"  data/a.png: not an image"`); none for TensorFlow's own errors."""
    lines = str(error).splitlines()
    return [line for line in lines[1:] if line.startswith("  ")] if len(lines) > 1 else []


def show_data_warnings_as_lines() -> None:
    """Print each `DataWarning` and `EnvironmentWarning` as one `warning: ...` line on stderr (not
    Python's two-line form with a source location); other warnings keep the format in place before
    (idempotent)."""
    shown = warnings.showwarning
    if getattr(shown, "data_warnings_as_lines", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):
        from perceiver_tf.data.errors import DataWarning, EnvironmentWarning

        if issubclass(category, (DataWarning, EnvironmentWarning)):
            print(f"warning: {message}", file=file or sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    show.data_warnings_as_lines = True
    warnings.showwarning = show
