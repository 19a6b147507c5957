"""Read point-cloud files (.npy/.npz/.ply/.off/.xyz/.txt) into `(n, 3)` float32 xyz arrays."""

from __future__ import annotations

import os

import numpy as np

from perceiver_tf.data.formats import as_path
from perceiver_tf.data.npy_files import read_npy, read_npz

#: Why a cloud with NaN or infinite coordinates is rejected (files, arrays and serving bytes alike).
NON_FINITE_POINTS = "point cloud has NaN or infinite coordinates"
#: Keys tried, in order, in an `.npz` archive before its first array.
NPZ_KEYS = ("points", "xyz", "pos", "data")
_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}


def _read_text(path: str) -> np.ndarray:
    with open(path) as f:
        first = f.readline()
    return np.loadtxt(path, delimiter="," if "," in first else None, ndmin=2)


def _read_npz(path: str) -> np.ndarray:
    archive = read_npz(path)
    key = next((k for k in NPZ_KEYS if k in archive), next(iter(archive), None))
    if key is None:
        raise ValueError("empty .npz archive")
    return archive[key]


def _read_off(path: str) -> np.ndarray:
    with open(path) as f:
        tokens = f.read().split()
    # ModelNet's OFF files sometimes glue the counts to the magic word ("OFF490 518 0").
    if not tokens or not tokens[0].startswith("OFF"):
        raise ValueError("missing OFF header")
    head = [tokens[0][3:]] if tokens[0] != "OFF" else []
    rest = head + tokens[1:]
    num_vertices = int(rest[0])
    return np.asarray(rest[3 : 3 + 3 * num_vertices], dtype=np.float32).reshape(num_vertices, 3)


def _read_ply(path: str) -> np.ndarray:
    with open(path, "rb") as f:
        if f.readline().strip() != b"ply":
            raise ValueError("missing ply header")
        fmt, elements, current = None, [], None
        while True:
            line = f.readline()
            if not line:
                raise ValueError("ply header without end_header")
            words = line.decode("ascii", "replace").split()
            if not words or words[0] in ("comment", "obj_info"):
                continue
            if words[0] == "format":
                fmt = words[1]
            elif words[0] == "element":
                current = [words[1], int(words[2]), []]
                elements.append(current)
            elif words[0] == "property":
                if words[1] == "list":
                    current[2].append((words[4], None))
                else:
                    current[2].append((words[2], _PLY_TYPES[words[1]]))
            elif words[0] == "end_header":
                break
        if not elements or elements[0][0] != "vertex":
            raise ValueError("ply file whose first element is not 'vertex'")
        _, count, props = elements[0]
        names = [n for n, _ in props]
        if fmt == "ascii":
            rows = [f.readline().split() for _ in range(count)]
            table = np.asarray(rows, dtype=np.float64)[:, [names.index(a) for a in "xyz"]]
            return table
        if any(t is None for _, t in props):
            raise ValueError("binary ply vertices with list properties are not supported")
        order = "<" if fmt == "binary_little_endian" else ">"
        dtype = np.dtype([(n, order + t) for n, t in props])
        table = np.frombuffer(f.read(dtype.itemsize * count), dtype=dtype, count=count)
        return np.stack([table[a] for a in "xyz"], axis=-1)


_READERS = {".npy": read_npy, ".npz": _read_npz, ".ply": _read_ply, ".off": _read_off,
            ".xyz": _read_text, ".txt": _read_text}


def read_point_file(path: str | bytes) -> np.ndarray:
    """Load one cloud as float32 `(n, 3)` xyz (extra columns such as normals are dropped).

    Raises:
        ValueError: naming `path`, for an unreadable file, a wrong shape or non-finite values.
    """
    path = as_path(path)
    extension = os.path.splitext(path)[1].lower()
    if extension not in _READERS:
        raise ValueError(f"{path}: unsupported point-cloud extension {extension!r}; valid: {', '.join(_READERS)}")
    try:
        points = np.asarray(_READERS[extension](path), dtype=np.float32)
    except Exception as error:  # any parse failure becomes one clear error naming the file
        raise ValueError(f"{path}: cannot read point cloud ({type(error).__name__}: {error})") from error
    if points.ndim != 2 or points.shape[1] < 3 or len(points) == 0:
        raise ValueError(f"{path}: expected an (n >= 1, >= 3) array of points; got shape {points.shape}")
    points = points[:, :3]
    if not np.isfinite(points).all():
        raise ValueError(f"{path}: {NON_FINITE_POINTS}")
    return np.ascontiguousarray(points)
