"""How data problems reach the user: one-line reasons for decode errors, and warnings about the data."""

from __future__ import annotations

import re

#: TensorFlow's internals in an error message: `{{function_node ...}}`, `[[{{node ...}}]]`, `[Op:...] name: ...`.
_TF_NOISE = re.compile(r"\{\{function_node [^}]*\}\}|\[\[\{\{node [^}]*\}\}\]\]|\[Op:[^\]]*\](?: name: \S*)?")
#: Lines of a graph error that locate it rather than say what is wrong.
_LOCATION = re.compile(r"Graph execution error:|Detected at node |Traceback \(most recent call last\)|File \"")
#: An assertion's own message: `assertion failed: [MESSAGE]` in graphs, `... Summarized data: b'MESSAGE'` eagerly
#: (both C-escaped: messages avoid quotes).
_ASSERTION = re.compile(r"assertion failed: \[(.*)\]|Expected .* to be true\. Summarized data: b'(.*)'")
#: The exception type a `tf.numpy_function` error carries over into its message ("ValueError: ...").
_EXCEPTION_TYPE = re.compile(r"^\w*(?:Error|Exception): ")


class DataWarning(UserWarning):
    """Something about the data the user should know but that does not stop training (mixed image
    sizes, skipped symlinks): issued with `warnings.warn`; the CLI prints each as one line."""


class EnvironmentProblem(EnvironmentError):
    """Something this environment lacks (a codec, a working native library), not a fault of the files:
    reported once, as one line naming the fix, instead of against every file it stops from being read."""


class EnvironmentWarning(UserWarning):
    """Something this environment lacks that a run can do without (e.g. TensorBoard for logs): issued
    with `warnings.warn`, once, naming how to get it; the CLI prints it as one line."""


def environment_problem(error: BaseException) -> EnvironmentProblem | None:
    """The `EnvironmentProblem` that `error` is or carries, else None.

    A `tf.numpy_function` re-raises its Python exception as a TensorFlow error whose message keeps
    the exception's type name and text (`"MissingAudioDecoderError: no decoder ..."`).
    """
    if isinstance(error, EnvironmentProblem):
        return error
    for kind in EnvironmentProblem.__subclasses__():
        carried = re.search(rf"\b{kind.__name__}: ([^\n]*)", str(error))
        if carried:
            return kind(carried.group(1).strip())
    return None


class DataOptionError(ValueError):
    """A data option that does not apply to the data (e.g. `image_size` on point clouds): the
    user's options are wrong, not the files (the CLI exits with status 2)."""


def error_reason(error: BaseException, path: str | None = None) -> str:
    """The first line of `error` that says what is wrong, without TensorFlow's internals.

    Drops graph locations, `{{function_node ...}}` / `[Op:...]` tags, an assertion's wrapper and
    the exception type of a `tf.numpy_function` error; with `path`, also a leading `"<path>: "`
    (the caller names the file itself). Falls back to the error's type name.
    """
    for line in _TF_NOISE.sub("", str(error)).splitlines():
        line = line.strip()
        if not line or _LOCATION.match(line):
            continue
        assertion = _ASSERTION.fullmatch(line)
        if assertion:
            line = assertion.group(1) or assertion.group(2)
        line = _EXCEPTION_TYPE.sub("", line)
        if path is not None and line.startswith(f"{path}: "):
            line = line[len(path) + 2:]
        return line
    return type(error).__name__
