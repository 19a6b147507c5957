"""SavedModel export from a session whose Keras backend is not TensorFlow (e.g. `KERAS_BACKEND=jax`).

A SavedModel is a TensorFlow graph, which only Keras' TensorFlow backend can trace. The model's
portable `.keras` file is therefore written to a temporary folder and re-loaded in a child process
under `KERAS_BACKEND=tensorflow`, which calls `write_saved_model` on it: the export is exactly the
one a TensorFlow session writes for the same file (same weights, same metadata, same signatures).
The child inherits the environment (`PYTHONPATH` extended with this copy of perceiver_tf).

    python -m perceiver_tf.export.tensorflow_process MODEL.keras SAVED_MODEL_DIR {0|1}

is the child's command line (the last argument: include `serving_bytes`); it prints the
`SavedModelExport` as one JSON line, or `{"error": ...}` for a `ValueError` (exit status 3).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import keras

#: Exit status of the child for a `ValueError` (a user's mistake, e.g. the target exists).
VALUE_ERROR_STATUS = 3


def _child_environment() -> dict[str, str]:
    package_root = str(Path(__file__).resolve().parents[2])
    paths = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": os.pathsep.join(paths)}


def write_saved_model_under_tensorflow(model: keras.Model, path: str | os.PathLike, include_bytes: bool = True,
                                       timeout: float = 900.0):
    """`write_saved_model(model, path, include_bytes)` done by a child process on the TensorFlow backend.

    Returns:
        The child's `SavedModelExport`.

    Raises:
        ValueError: the child's `ValueError` (e.g. `path` exists), same message.
        RuntimeError: the child failed otherwise (its output is in the message).
    """
    from perceiver_tf.export.saved_model import SavedModelExport

    with tempfile.TemporaryDirectory() as folder:
        keras_path = os.path.join(folder, "model.keras")
        model.save(keras_path)
        command = [sys.executable, "-m", __name__, keras_path, str(Path(path).resolve()), str(int(include_bytes))]
        result = subprocess.run(command, env=_child_environment(), capture_output=True, text=True, timeout=timeout)
    lines = result.stdout.strip().splitlines()
    reply = json.loads(lines[-1]) if result.returncode in (0, VALUE_ERROR_STATUS) and lines else None
    if reply is None:
        raise RuntimeError(f"The TensorFlow export process failed (exit {result.returncode}):\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    if "error" in reply:
        raise ValueError(reply["error"])
    return SavedModelExport(path=Path(reply["path"]), version=reply["version"], signatures=tuple(reply["signatures"]),
                            bytes_input=reply["bytes_input"], note=reply["note"])


def _main(keras_path: str, path: str, include_bytes: str) -> int:
    import perceiver_tf  # noqa: F401 - registers the perceiver_tf classes for load_model
    from perceiver_tf.export.saved_model import write_saved_model

    model = keras.models.load_model(keras_path, compile=False)
    try:
        export = write_saved_model(model, path, include_bytes=include_bytes == "1")
    except ValueError as error:
        print(json.dumps({"error": str(error)}))
        return VALUE_ERROR_STATUS
    print(json.dumps({"path": str(export.path), "version": export.version, "signatures": list(export.signatures),
                      "bytes_input": export.bytes_input, "note": export.note}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:]))
