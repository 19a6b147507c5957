"""`.npy` / `.npz` arrays read without Python's `ast` module, so that `tf.data` worker threads can read them.

`numpy.load` parses a `.npy` header with `ast.literal_eval`. CPython 3.11 keeps the AST constructor's
recursion depth per interpreter, not per thread: a header parsed in a `tf.numpy_function` worker while
another thread parses Python source (autograph converting a function as `model.fit` starts, or
another worker's header) fails at random with "SystemError: AST constructor recursion depth mismatch"
(python/cpython#106905). The header is a dict literal in a fixed form (`numpy.lib.format`), read here
with regular expressions instead.
"""

from __future__ import annotations

import re
import struct
import zipfile
from typing import BinaryIO

import numpy as np

_MAGIC = b"\x93NUMPY"
#: Header length field and text encoding per format version (`numpy.lib.format`).
_VERSIONS = {1: ("<H", "latin1"), 2: ("<I", "latin1"), 3: ("<I", "utf8")}
_KEY = r"""['"]{}['"]\s*:\s*"""
_DESCR = re.compile(_KEY.format("descr") + r"""['"]([^'"]+)['"]""")
_FORTRAN = re.compile(_KEY.format("fortran_order") + r"(True|False)")
_SHAPE = re.compile(_KEY.format("shape") + r"\(([\d\s,]*)\)")
_ONLY_KEYS = re.compile(r"""^\{(\s*['"](descr|fortran_order|shape)['"]\s*:[^:]*)+\}$""")


def _header(file: BinaryIO) -> tuple[np.dtype, tuple[int, ...], bool]:
    """Read a `.npy` header from `file` (left at the first data byte): `(dtype, shape, fortran_order)`."""
    if file.read(len(_MAGIC)) != _MAGIC:
        raise ValueError("not a .npy file (no NUMPY magic string)")
    major = file.read(2)[:1]
    length_format, encoding = _VERSIONS.get(major[0] if major else 0, (None, None))
    if length_format is None:
        raise ValueError("unsupported .npy format version; save it again with numpy.save")
    size = struct.calcsize(length_format)
    (length,) = struct.unpack(length_format, file.read(size))
    header = file.read(length).decode(encoding).strip()
    descr, fortran, shape = (pattern.search(header) for pattern in (_DESCR, _FORTRAN, _SHAPE))
    if not (descr and fortran and shape and _ONLY_KEYS.match(header)):
        raise ValueError(f"unsupported .npy header {header!r}: save a plain numeric array with numpy.save")
    dtype = np.dtype(descr.group(1))
    if dtype.hasobject:
        raise ValueError("the .npy file holds Python objects (pickled); save a numeric array")
    dims = tuple(int(d) for d in shape.group(1).replace(" ", "").split(",") if d)
    return dtype, dims, fortran.group(1) == "True"


def _read_array(file: BinaryIO) -> np.ndarray:
    """The array stored in an open `.npy` stream (a file or an `.npz` member)."""
    dtype, shape, fortran = _header(file)
    flat = np.empty(int(np.prod(shape)), dtype)
    if file.readinto(memoryview(flat.view(np.uint8))) != flat.nbytes:
        raise ValueError(f"the .npy file is truncated: fewer bytes than its shape {shape} needs")
    return flat.reshape(shape, order="F" if fortran else "C")


def read_npy(path: str, mmap_mode: str | None = None) -> np.ndarray:
    """Like `numpy.load(path, mmap_mode=...)` for a `.npy` file, safe in any thread.

    Raises:
        ValueError: for a file that is not a plain numeric `.npy` array, or is truncated.
    """
    with open(path, "rb") as file:
        if mmap_mode is None:
            return _read_array(file)
        dtype, shape, fortran = _header(file)
        offset = file.tell()
    if 0 in shape:
        return np.empty(shape, dtype)
    return np.memmap(path, dtype, mmap_mode, offset, shape, "F" if fortran else "C")


def read_npz(path: str) -> dict[str, np.ndarray]:
    """Every array of an `.npz` archive (`{name: array}`, in archive order), safe in any thread.

    Raises:
        ValueError: for a member that is not a plain numeric array.
    """
    with zipfile.ZipFile(path) as archive:
        names = [name for name in archive.namelist() if name.endswith(".npy")]
        arrays = {}
        for name in names:
            with archive.open(name) as member:
                arrays[name[: -len(".npy")]] = _read_array(member)
    return arrays
