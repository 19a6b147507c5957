"""Export reliability: atomic publishing (kill -9 mid-write, failures, stale temporaries), the
`valid` serving output for NaN / Inf / out-of-range examples (SavedModel and TFLite), and the
`perceiver-tf export` errors (one `error:` line, before the model is loaded)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_flags import one_error_line
from test_export import DIGITS_PREPROCESSING, TINY
from test_tasks import CASES

from perceiver_tf import build_classifier
from perceiver_tf.cli import main
from perceiver_tf.data import DIGITS_CLASS_NAMES
from perceiver_tf.export import (
    SERVING_DEFAULT,
    export_saved_model,
    export_tflite,
    model_outputs,
    next_version,
    tflite_interpreter,
)
from perceiver_tf.export.atomic import (
    FOREIGN_STALE_AFTER_S,
    is_stale,
    publish_directory,
    remove_stale_temporaries,
    temporary_name,
    write_bytes_atomic,
)
from perceiver_tf.export.saved_model import METADATA_FILE, write_saved_model

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml

REPO = Path(__file__).resolve().parents[1]
#: The child exports a saved model and stops (sleeps) at STAGE, after writing MARKER, until killed.
_KILLED_EXPORT = r"""
import sys, time
from pathlib import Path
import keras
from perceiver_tf.export import atomic, export_saved_model

model_path, base, marker, stage = sys.argv[1:]

def stop_after(function):
    def stopped(*args, **kwargs):
        function(*args, **kwargs)
        Path(marker).write_text(stage)
        time.sleep(600)
    return stopped

if stage == "graph_written":  # graph and variables on disk, metadata.json not yet
    archive_class = type(keras.export.ExportArchive())  # the backend's subclass
    archive_class.write_out = stop_after(archive_class.write_out)
else:  # "fsynced": everything written and flushed, not yet renamed
    atomic.fsync_tree = stop_after(atomic.fsync_tree)
export_saved_model(keras.saving.load_model(model_path), base)
"""


@pytest.fixture(scope="module")
def image_model():
    """An untrained tiny digits-shaped classifier (random head: distinct outputs per image), pixels in [0, 1]."""
    keras.utils.set_random_seed(0)
    return build_classifier(
        "tiny", (8, 8, 1), 10, input_kind="image", head_kernel_initializer="glorot_uniform",
        metadata={"class_names": DIGITS_CLASS_NAMES, "modality": "image", "preprocessing": DIGITS_PREPROCESSING},
        **TINY,
    )


@pytest.fixture(scope="module")
def model_file(image_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.keras"
    image_model.save(path)
    return path


@pytest.fixture(scope="module")
def images():
    """`(5, 8, 8, 1)`: a good image, then one with a NaN, one with an Inf, all 1e6, and unscaled (0-255) pixels."""
    good = np.random.default_rng(0).uniform(0, 1, (8, 8, 1)).astype(np.float32)
    nan, inf = good.copy(), good.copy()
    nan[2, 3, 0] = np.nan
    inf[0, 0, 0] = np.inf
    return np.stack([good, nan, inf, np.full_like(good, 1e6), np.round(good * 255)])


EXPECTED_VALID = [True, False, False, False, False]


def _versions(base: Path) -> list[str]:
    """What TF Serving sees in a model base directory: its integer-named entries."""
    return sorted(p.name for p in base.iterdir() if p.name.isdecimal())


def _check_guarded(outputs: dict, expected_valid: list[bool]) -> dict[str, np.ndarray]:
    """`valid` `(B,)` as expected, every output finite, invalid rows zeros (`class_ids` -1); the outputs as numpy."""
    outputs = {name: np.asarray(value) for name, value in outputs.items()}
    np.testing.assert_array_equal(outputs["valid"], expected_valid)
    invalid = ~np.asarray(expected_valid)
    for name, value in outputs.items():
        if name != "valid":
            assert np.isfinite(value).all(), name
            np.testing.assert_array_equal(value[invalid], -1 if name == "class_ids" else 0, err_msg=name)
    return outputs


def _assert_rows_equal(outputs: dict, rows: list[int], alone: dict, atol: float = 1e-5):
    """`outputs` (B, ...) at `rows` equal `alone`, the outputs of those rows run as a batch of their own."""
    for name, value in alone.items():
        np.testing.assert_allclose(outputs[name][rows], value, atol=atol, err_msg=name)


# --- kill -9 and failures ----------------------------------------------------------------------


def _export_killed_at(stage: str, model_file: Path, base: Path, tmp_path: Path) -> int:
    """Run an export in a child process, SIGKILL it once it reaches `stage`; returns its pid."""
    marker = tmp_path / f"{stage}.reached"
    child = subprocess.Popen([sys.executable, "-c", _KILLED_EXPORT, str(model_file), str(base), str(marker), stage],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    deadline = time.monotonic() + 120
    while not marker.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the export child never reached {stage}:\n{child.communicate()[0].decode()}")
        time.sleep(0.1)
    child.kill()  # SIGKILL: no cleanup handler runs
    child.communicate()  # reaped: its pid no longer counts as running
    return child.pid


@pytest.mark.parametrize("stage", ["graph_written", "fsynced"])
@pytest.mark.e2e
def test_export_killed_mid_write_leaves_no_version_and_the_next_export_is_version_1(
    stage, image_model, model_file, images, tmp_path
):
    base = tmp_path / "serving"
    pid = _export_killed_at(stage, model_file, base, tmp_path)
    leftover = base / f".tmp-1-pid{pid}@{socket.gethostname()}"
    assert _versions(base) == [] and sorted(os.listdir(base)) == [leftover.name]  # TF Serving sees nothing
    assert (leftover / "saved_model.pb").is_file()  # the kill landed mid-export
    assert (leftover / METADATA_FILE).is_file() == (stage == "fsynced")
    assert is_stale(leftover) and next_version(base) == 1

    export = export_saved_model(image_model, base)
    assert export.version == 1 and sorted(os.listdir(base)) == ["1"]  # the stale temporary is gone
    assert json.loads((base / "1" / METADATA_FILE).read_text()) == image_model.metadata
    served = tf.saved_model.load(str(export.path)).signatures[SERVING_DEFAULT](inputs=tf.constant(images[:1]))
    np.testing.assert_allclose(served["logits"], image_model.predict(images[:1], verbose=0), atol=1e-5)


def test_publish_refuses_an_existing_target_and_cleans_up_after_a_failure(tmp_path):
    existing = tmp_path / "1"
    existing.mkdir()
    with pytest.raises(ValueError, match="already exists"):
        publish_directory(existing, lambda folder: pytest.fail("write ran for an existing target"))

    def target_appears(folder: Path):  # another export published the same target meanwhile
        (folder / "saved_model.pb").write_bytes(b"ours")
        (tmp_path / "2").mkdir()

    with pytest.raises(ValueError, match="already exists"):
        publish_directory(tmp_path / "2", target_appears)
    assert sorted(os.listdir(tmp_path)) == ["1", "2"] and os.listdir(tmp_path / "2") == []  # not replaced

    def disk_full(folder: Path):
        (folder / "variables").mkdir()
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        publish_directory(tmp_path / "3", disk_full)
    assert sorted(os.listdir(tmp_path)) == ["1", "2"]


def test_a_failing_saved_model_write_leaves_nothing(image_model, tmp_path, monkeypatch):
    def interrupted(archive, path, **kwargs):
        Path(path, "variables").mkdir(parents=True)  # the empty variables/ of the issue
        raise KeyboardInterrupt

    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", interrupted)  # the backend's subclass
    with pytest.raises(KeyboardInterrupt):
        export_saved_model(image_model, tmp_path / "serving")
    assert os.listdir(tmp_path / "serving") == [] and next_version(tmp_path / "serving") == 1


@pytest.mark.e2e
def test_only_temporaries_of_finished_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    names = {
        "live": f".tmp-1-pid{os.getppid()}@{socket.gethostname()}",  # our parent: still running
        "dead": f".tmp-2-pid{dead.stdout.strip()}@{socket.gethostname()}",
        "earlier_with_our_pid": temporary_name("6"),  # this process is not writing it
        "foreign_recent": ".tmp-3-pid1@another-host",
        "foreign_old": ".tmp-4-pid1@another-host",
        "old_tflite": f".tmp-model.tflite-pid{dead.stdout.strip()}@{socket.gethostname()}",
        "version": "5",
        "other": ".tmp-notes",
    }
    for label, name in names.items():
        if label == "old_tflite":
            (tmp_path / name).write_bytes(b"x")
        else:
            (tmp_path / name).mkdir()
    long_ago = time.time() - FOREIGN_STALE_AFTER_S - 60
    os.utime(tmp_path / names["foreign_old"], (long_ago, long_ago))

    assert remove_stale_temporaries(tmp_path, "4") == [tmp_path / names["foreign_old"]]  # only target "4"
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == sorted(names[k] for k in ("dead", "earlier_with_our_pid", "old_tflite"))
    assert sorted(os.listdir(tmp_path)) == sorted(names[k] for k in ("live", "foreign_recent", "version", "other"))

    def another_export_cleans_up(folder: Path):  # e.g. another thread exporting the next version
        assert remove_stale_temporaries(tmp_path) == [] and folder.is_dir()

    publish_directory(tmp_path / "7", another_export_cleans_up)
    assert (tmp_path / "7").is_dir()


def test_a_leftover_of_an_earlier_process_with_our_pid_does_not_block_the_export(image_model, tmp_path):
    """A restarted container often gets the killed export's pid again."""
    leftover = tmp_path / temporary_name("1")
    (leftover / "variables").mkdir(parents=True)
    assert export_saved_model(image_model, tmp_path).version == 1 and sorted(os.listdir(tmp_path)) == ["1"]


# --- the `valid` output ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(image_model, tmp_path_factory):
    """The image model's SavedModel `serving_default`, loaded in this process."""
    export = write_saved_model(image_model, tmp_path_factory.mktemp("valid") / "1", include_bytes=False)
    return tf.saved_model.load(str(export.path)).signatures[SERVING_DEFAULT]


def test_saved_model_marks_non_finite_and_out_of_range_images_invalid(served, image_model, images):
    outputs = _check_guarded(served(inputs=tf.constant(images)), EXPECTED_VALID)
    _assert_rows_equal(outputs, [0], {name: value.numpy() for name, value in served(inputs=images[:1]).items()})
    logits = image_model.predict(images[:1], verbose=0)
    np.testing.assert_allclose(outputs["logits"][:1], logits, atol=1e-5)
    np.testing.assert_allclose(outputs["probabilities"][:1], tf.nn.softmax(logits), atol=1e-5)
    # Just inside the tolerance stays valid (clients may preprocess slightly differently).
    np.testing.assert_array_equal(served(inputs=tf.constant(np.stack([images[0] * 1.49, -0.49 * images[0]])))["valid"],
                                  [True, True])


def test_points_models_only_refuse_non_finite_values():
    """No pixel range: a NaN is invalid, large finite coordinates are valid; masks are not checked."""
    build, make_inputs = CASES["masked_points_classifier"]
    model, inputs = build(), make_inputs(np.random.default_rng(0))
    inputs["inputs"][1, 4, 2] = np.nan
    inputs["inputs"][2] *= 1e3
    outputs = _check_guarded(model_outputs(model, inputs), [True, False, True])
    alone = model_outputs(model, {name: value[[0, 2]] for name, value in inputs.items()})
    _assert_rows_equal(outputs, [0, 2], {name: np.asarray(value) for name, value in alone.items()})


@pytest.mark.parametrize("quantize", ["none", "int8"])
def test_tflite_keeps_the_guard_and_replaces_its_file_atomically(quantize, image_model, images, tmp_path):
    """int8 too: its inputs are quantised (1e6 clamped into range) before any float comparison would run."""
    path = tmp_path / "model.tflite"
    path.write_bytes(b"previous")
    content = export_tflite(image_model, path, quantize, representative_data=images[:1].repeat(8, axis=0))
    assert path.read_bytes() == content and os.listdir(tmp_path) == ["model.tflite"]
    runner = tflite_interpreter(model_content=content).get_signature_runner(SERVING_DEFAULT)
    outputs = [runner(inputs=images[i : i + 1]) for i in range(len(images))]
    stacked = _check_guarded({name: np.concatenate([o[name] for o in outputs]) for name in outputs[0]}, EXPECTED_VALID)
    if quantize == "none":
        np.testing.assert_allclose(stacked["logits"][:1], image_model.predict(images[:1], verbose=0), atol=1e-4)


def test_a_failing_tflite_conversion_or_write_keeps_the_previous_file(image_model, tmp_path, monkeypatch):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"previous")

    real_converter = tf.lite.TFLiteConverter.from_saved_model

    def crash():
        raise RuntimeError("converter crashed")

    def crashing_converter(*args, **kwargs):
        converter = real_converter(*args, **kwargs)
        converter.convert = crash
        return converter

    with monkeypatch.context() as patch:
        patch.setattr(tf.lite.TFLiteConverter, "from_saved_model", crashing_converter)
        with pytest.raises(RuntimeError, match="converter crashed"):
            export_tflite(image_model, path)
    assert path.read_bytes() == b"previous" and os.listdir(tmp_path) == ["model.tflite"]

    def disk_full(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_bytes_atomic(path, b"new")
    assert path.read_bytes() == b"previous" and os.listdir(tmp_path) == ["model.tflite"]


# --- `perceiver-tf export` errors --------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    """`perceiver-tf ARGV`'s exit status, argparse's own errors (a SystemExit while parsing) included."""
    try:
        return main(argv)
    except SystemExit as exit_info:
        return exit_info.code


@pytest.mark.parametrize("flags, status, expected", [
    (["--version", "-1"], 2, "argument --version: must be >= 0, got -1"),
    (["--version", "v2"], 2, "argument --version: expected an integer, got 'v2'"),
    (["--format", "tflite", "--calibration-examples", "0"], 2, "argument --calibration-examples: must be >= 1"),
    (["--output", "{file}/serving"], 2, "is a file"),  # checked before the (missing) model
    (["--format", "tflite", "--output", "{dir}"], 2, "is a directory; pass a file name"),
    ([], 1, "does not exist"),
])
@pytest.mark.e2e
def test_export_flag_and_path_mistakes_areone_error_line(flags, status, expected, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir.tflite").mkdir()
    flags = [flag.format(file=tmp_path / "file", dir=tmp_path / "dir.tflite") for flag in flags]
    argv = ["export", "--model", str(tmp_path / "missing.keras"), "--output", str(tmp_path / "out"), *flags]
    assert run_cli(argv) == status
    assert expected in one_error_line(capsys)


@pytest.mark.e2e
def test_an_existing_export_is_replaced_only_when_asked(image_model, tmp_path, capsys):
    """An existing .tflite file or SavedModel version is refused (left byte-identical) without --overwrite,
    and replaced with it; the SavedModel is swapped in whole, leaving no temporary."""
    model_path = tmp_path / "m.keras"
    image_model.save(model_path)
    tflite, base = tmp_path / "m.tflite", tmp_path / "serving"
    tflite.write_bytes(b"previous")
    (base / "1").mkdir(parents=True)
    (base / "1" / "mine.txt").write_text("a version of the user's")
    for argv, existing in ((["--format", "tflite", "--output", str(tflite)], tflite),
                           (["--output", str(base), "--version", "1"], base / "1" / "mine.txt")):
        before = existing.read_bytes()
        assert run_cli(["export", "--model", str(model_path), *argv]) == 1
        assert one_error_line(capsys) == (f"error: {argv[-1] if 'tflite' in argv else base / '1'} exists; pass "
                                          f"another {'--output' if 'tflite' in argv else '--version (or none: the next version)'}"
                                          ", or --overwrite to replace it.")
        assert existing.read_bytes() == before
        assert run_cli(["export", "--model", str(model_path), *argv, "--overwrite"]) == 0
        capsys.readouterr()
    assert tflite.read_bytes()[4:8] == b"TFL3"
    assert sorted(os.listdir(base)) == ["1"] and (base / "1" / "saved_model.pb").exists()
    assert not (base / "1" / "mine.txt").exists()
