"""Run SavedModel signatures in a fresh Python process that cannot import perceiver_tf.

This is the deployment check: TF Serving and other consumers have TensorFlow and nothing of
ours. The child runs `python -I -S` (isolated: no PYTHONPATH, no user site, no `.pth` files, so
no editable install of perceiver_tf) from a temporary working directory, adds only the
environment's site-packages directories to `sys.path` (without their `.pth` hooks), asserts
that `perceiver_tf` is not importable, then `tf.saved_model.load`s the export and calls the
requested signatures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

_CHILD = r"""
import importlib.util, json, sys
exports = json.loads(sys.argv[3])
sys.path.extend(path for path in sys.argv[4:] if path not in sys.path)
if importlib.util.find_spec("perceiver_tf") is not None:
    raise SystemExit("perceiver_tf is importable in the fresh process")
import numpy as np
import tensorflow as tf
inputs_path, outputs_path = sys.argv[1:3]
calls = {}
with np.load(inputs_path, allow_pickle=True) as data:  # our own file; object arrays hold bytes
    for key in data.files:
        label, signature, name = key.split("/")
        calls.setdefault(label, {}).setdefault(signature, {})[name] = tf.constant(data[key])
results = {}
for label, saved_model_dir in exports.items():
    loaded = tf.saved_model.load(saved_model_dir)
    for signature, inputs in calls[label].items():
        for name, value in loaded.signatures[signature](**inputs).items():
            results[f"{label}/{signature}/{name}"] = value.numpy()
np.savez(outputs_path, **results)
leaked = sorted(name for name in sys.modules if name.split(".")[0] == "perceiver_tf")
print("perceiver_tf modules:", leaked, "tensorflow", tf.__version__)
"""


def _as_array(value) -> np.ndarray:
    """numpy array of `value`; encoded files become an object array (a bytes `S` array would drop
    trailing NUL bytes, e.g. the silence at the end of a WAV)."""
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], bytes):
        array = np.empty(len(value), dtype=object)
        array[:] = list(value)
        return array
    return np.asarray(value)


def run_signatures_in_fresh_process(
    saved_model_dir: str | os.PathLike,
    calls: Mapping[str, Mapping[str, np.ndarray | list[bytes]]],
    timeout: float = 300.0,
) -> dict[str, dict[str, np.ndarray]]:
    """Call SavedModel signatures in one clean child process.

    Args:
        saved_model_dir: a SavedModel directory (e.g. `saved_models/digits/1`).
        calls: signature name -> its named inputs, e.g. `{"serving_default": {"inputs": x},
            "serving_bytes": {"image_bytes": [png, ...]}}` (lists of `bytes` for string inputs).
        timeout: seconds before the child is killed.

    Returns:
        signature name -> its named outputs as numpy arrays.

    Raises:
        RuntimeError: the child failed or could import perceiver_tf (its output is in the message).
    """
    return run_exports_in_fresh_process({"model": (saved_model_dir, calls)}, timeout)["model"]


def run_exports_in_fresh_process(
    exports: Mapping[str, tuple[str | os.PathLike, Mapping[str, Mapping[str, np.ndarray | list[bytes]]]]],
    timeout: float = 300.0,
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """`run_signatures_in_fresh_process` for several SavedModels in one child (TensorFlow starts once).

    Args:
        exports: label (letters, digits, `_`) -> `(saved_model_dir, calls)`.

    Returns:
        label -> signature name -> named outputs.
    """
    with tempfile.TemporaryDirectory() as workdir:
        inputs_path = Path(workdir) / "inputs.npz"
        outputs_path = Path(workdir) / "outputs.npz"
        arrays = {f"{label}/{signature}/{name}": _as_array(value) for label, (_, calls) in exports.items()
                  for signature, inputs in calls.items() for name, value in inputs.items()}
        np.savez(inputs_path, **arrays)
        directories = json.dumps({label: str(Path(path).resolve()) for label, (path, _) in exports.items()})
        env = {"PATH": os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "2", "HOME": workdir}
        site_packages = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
        command = [sys.executable, "-I", "-S", "-c", _CHILD, str(inputs_path), str(outputs_path), directories,
                   *site_packages]
        result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0 or "perceiver_tf modules: []" not in result.stdout:
            raise RuntimeError(
                f"The fresh process failed (exit {result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )
        outputs: dict[str, dict[str, dict[str, np.ndarray]]] = {}
        with np.load(outputs_path) as data:
            for key in data.files:
                label, signature, name = key.split("/")
                outputs.setdefault(label, {}).setdefault(signature, {})[name] = data[key]
        return outputs
