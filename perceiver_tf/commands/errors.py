"""How `cli.main` reports a failure: one `error:` line (`perceiver_tf.errors` names the user's own).

Light to import (TensorFlow loads only when an error or warning is reported): `perceiver-tf --help`
reads this module."""

from __future__ import annotations

import sys
import warnings

from perceiver_tf.errors import PerceiverError


def report(error: BaseException) -> int:
    """Print `error` as one `error:` line on stderr; return the exit status.

    Our own errors (`PerceiverError`) and the library's documented ones (`ValueError` naming the
    problem, `OSError` naming the path) and running out of memory are the user's to fix; anything else is a bug in
    perceiver_tf, reported as such with the way to see its traceback.
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
    if isinstance(error, PerceiverError):
        print(f"error: {message}", file=sys.stderr)
        return error.exit_code
    if isinstance(error, (ValueError, OSError)):
        print(f"error: {message}", file=sys.stderr)
        return 1
    if isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError":  # tf.errors' OOM
        print(f"error: out of memory ({message}); use a smaller --batch-size or --preset", file=sys.stderr)
        return 1
    print(f"error: internal error ({type(error).__name__}: {message}); rerun with --debug for the traceback "
          "and please report it", file=sys.stderr)
    return 1


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
