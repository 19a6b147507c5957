"""`.npy` / `.npz` reading without `ast`: the same arrays as numpy, clear errors, and no parser use in the
`tf.numpy_function` bodies that read arrays in `tf.data` worker threads (python/cpython#106905)."""

import ast
import io

import numpy as np
import pytest

from perceiver_tf.data.npy_files import read_npy, read_npz
from perceiver_tf.data.point_files import read_point_file
from perceiver_tf.data.sensors_processor import _read as read_recording
from perceiver_tf.data.video import _npy_video

rng = np.random.default_rng(0)
ARRAYS = {
    "float32": rng.normal(size=(7, 3)).astype(np.float32),
    "uint8_video": rng.integers(0, 255, size=(2, 4, 5, 3), dtype=np.uint8),
    "scalar": np.array(2.5),
    "empty": np.zeros((0, 3), np.float32),
    "fortran": np.asfortranarray(rng.normal(size=(4, 6))),
    "big_endian": rng.normal(size=(5,)).astype(">f8"),
    "bool": rng.random((3, 2)) > 0.5,
}


@pytest.fixture
def no_python_parser(monkeypatch):
    """Make any use of Python's parser fail, as `numpy.load` uses it for headers."""
    def refuse(*args, **kwargs):
        raise AssertionError("the Python parser was used")
    monkeypatch.setattr(ast, "parse", refuse)
    monkeypatch.setattr(ast, "literal_eval", refuse)


def _saved(tmp_path, name, array, version=None):
    path = tmp_path / f"{name}.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version)
    return str(path)


@pytest.mark.parametrize("name", list(ARRAYS))
@pytest.mark.parametrize("version", [None, (2, 0), (3, 0)])
def test_read_npy_gives_numpys_array(tmp_path, name, version, no_python_parser):
    array = ARRAYS[name]
    loaded = read_npy(_saved(tmp_path, name, array, version))
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)
    assert loaded.flags.writeable


@pytest.mark.parametrize("name", ["float32", "fortran", "empty"])
def test_read_npy_as_a_memory_map(tmp_path, name, no_python_parser):
    array = ARRAYS[name]
    mapped = read_npy(_saved(tmp_path, name, array), "r")
    assert mapped.shape == array.shape
    np.testing.assert_array_equal(mapped, array)


def test_read_npz_gives_every_array_in_order(tmp_path, no_python_parser):
    path = tmp_path / "arrays.npz"
    np.savez_compressed(path, points=ARRAYS["float32"], labels=np.arange(7))
    arrays = read_npz(str(path))
    assert list(arrays) == ["points", "labels"]
    np.testing.assert_array_equal(arrays["points"], ARRAYS["float32"])
    np.testing.assert_array_equal(arrays["labels"], np.arange(7))


def test_unsupported_and_broken_files_get_one_line_errors(tmp_path):
    pickled = _saved(tmp_path, "objects", np.array([{"a": 1}], dtype=object))
    structured = _saved(tmp_path, "structured", np.zeros(3, [("x", "f4"), ("y", "f4")]))
    truncated = tmp_path / "truncated.npy"
    truncated.write_bytes(open(_saved(tmp_path, "full", ARRAYS["float32"]), "rb").read()[:-5])
    not_npy = tmp_path / "text.npy"
    not_npy.write_text("1,2,3\n")
    for path, message in [(pickled, "Python objects"), (structured, "plain numeric array"),
                          (truncated, "truncated"), (not_npy, "not a .npy file")]:
        with pytest.raises(ValueError, match=message) as error:
            read_npy(str(path))
        assert "\n" not in str(error.value)


def test_the_worker_thread_readers_never_use_the_python_parser(tmp_path, no_python_parser):
    points = rng.normal(size=(20, 3)).astype(np.float32)
    np.testing.assert_array_equal(read_point_file(_saved(tmp_path, "cloud", points)), points)
    np.savez(tmp_path / "cloud.npz", xyz=points)
    np.testing.assert_array_equal(read_point_file(str(tmp_path / "cloud.npz")), points)
    recording = rng.normal(size=(50, 3)).astype(np.float32)
    np.testing.assert_array_equal(read_recording(_saved(tmp_path, "recording", recording).encode()), recording)
    video = ARRAYS["uint8_video"]
    np.testing.assert_array_equal(_npy_video(_saved(tmp_path, "clip", video).encode()), video.astype(np.float32))


def test_numpy_headers_do_need_the_parser_so_the_guard_can_fail():
    buffer = io.BytesIO()
    np.save(buffer, ARRAYS["float32"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ast, "literal_eval", lambda *a: (_ for _ in ()).throw(AssertionError("parser used")))
        with pytest.raises(AssertionError, match="parser used"):
            np.load(io.BytesIO(buffer.getvalue()))
