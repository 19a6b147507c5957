"""Source kind `npz`: an `.npz` file with arrays `x` (examples), `y` (int labels) and optionally
`class_names`, read as in-memory arrays (`from_arrays`)."""

from __future__ import annotations

import os

import numpy as np

from perceiver_tf.data.array_source import from_arrays
from perceiver_tf.data.options import DataOptions
from perceiver_tf.data.source import DataSource, register_source


def load_npz(path: str, options: DataOptions) -> DataSource:
    """The arrays of the `.npz` file at `path` (module docstring).

    Raises:
        ValueError: no array `x` or `y`, or what `from_arrays` refuses.
    """
    with np.load(path) as arrays:
        if not {"x", "y"} <= set(arrays.files):
            raise ValueError(f"{path!r} must hold arrays 'x' (examples) and 'y' (int labels); found {arrays.files}")
        names = [str(n) for n in arrays["class_names"]] if "class_names" in arrays.files else None
        return from_arrays(arrays["x"], arrays["y"], names, options)


register_source("npz", lambda spec: spec.endswith(".npz") and os.path.isfile(spec), load_npz,
                "an .npz file with arrays x and y")
