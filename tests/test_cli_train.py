"""`perceiver-tf train / predict` on bad input (every modality end to end: tests/modality_matrix.py)."""

import json
import shlex
import sys

import pytest
from cli_flags import TINY_TRAIN_FLAGS

import perceiver_tf
from perceiver_tf.cli import main
from perceiver_tf.optional_packages import TENSORBOARD_MISSING, tensorboard_installed

pytestmark = pytest.mark.e2e  # see pyproject.toml


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_predict_reports_unreadable_files(tmp_path, capsys):
    model = perceiver_tf.build_classifier(
        "tiny", (8, 8, 1), 2, metadata={"class_names": ["a", "b"], "modality": "image", "preprocessing": {
            "modality": "image", "image_size": [8, 8], "channels": 1, "scale": 1 / 255, "offset": 0.0}})
    model.save(str(tmp_path / "m.keras"))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert main(["predict", "--model", str(tmp_path / "m.keras"), str(tmp_path / "bad.png")]) == 1
    (line,) = _json_lines(capsys.readouterr().out)
    assert line["file"].endswith("bad.png") and "cannot read image file" in line["error"]


def test_train_rejects_bad_sources_clearly(tmp_path, capsys):
    (tmp_path / "only" / "one").mkdir(parents=True)
    (tmp_path / "only" / "one" / "a.png").write_bytes(b"x")
    assert main(["train", "--data", str(tmp_path / "only"), "--output-dir", str(tmp_path / "o")]) == 1
    assert "single class" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # a run that failed before writing anything leaves no folder (nor .lock)
    assert main(["train", "--data", "tfds:not_a_real_dataset_123", "--output-dir", str(tmp_path / "o")]) == 1
    assert "Unknown TFDS dataset" in capsys.readouterr().err


@pytest.mark.tensorflow_only  # the trainer's callbacks are the same under JAX
@pytest.mark.parametrize("installed", [True, False], ids=["tensorboard", "no-tensorboard"])
def test_train_without_tensorboard_says_so_in_one_line_and_trains(tmp_path, capsys, monkeypatch, installed):
    """TensorFlow 2.17+ does not install TensorBoard: training goes on without logs and says how to get them."""
    if not installed:
        monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` raises ImportError
    elif not tensorboard_installed():
        pytest.skip("TensorBoard is not installed here")
    out = tmp_path / "run"
    assert main(["train", "--output-dir", str(out), *TINY_TRAIN_FLAGS, "--epochs", "1", "--verbose", "0"]) == 0
    printed = capsys.readouterr()
    notes = [line for line in printed.err.splitlines() if "TensorBoard" in line]
    assert (out / "model.keras").is_file()
    assert (out / "logs").is_dir() == installed
    assert notes == ([] if installed else [f"warning: {TENSORBOARD_MISSING}"])
    assert ("tensorboard --logdir" in printed.out) == installed


@pytest.mark.tensorflow_only  # the CLI's files are the same under JAX
def test_a_finished_run_is_kept_and_every_printed_next_command_runs(tmp_path, capsys, monkeypatch):
    """Training again into a finished run's directory is refused (model.keras byte-identical) until
    --overwrite; each command train prints runs as printed, from the directory train ran in."""
    monkeypatch.chdir(tmp_path)
    flags = ["--output-dir", "run", *TINY_TRAIN_FLAGS, "--epochs", "1", "--verbose", "0", "--no-tensorboard"]
    assert main(["train", *flags]) == 0
    printed = capsys.readouterr().out
    commands = [shlex.split(line) for line in printed.splitlines() if line.startswith("  perceiver-tf ")]
    assert [c[1] for c in commands] == ["evaluate", "predict", "attention", "export"], printed
    for command in commands:
        assert main(command[1:]) == 0, command
    assert (tmp_path / "attention.png").is_file() and (tmp_path / "run_serving" / "1").is_dir()
    capsys.readouterr()

    model = (tmp_path / "run" / "model.keras").read_bytes()
    assert main(["train", *flags, "--seed", "1"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: run holds a finished run (model.keras of ") and "--overwrite" in error, error
    assert "validation accuracy" in error and "--output-dir" in error and error.count("\n") == 1
    assert (tmp_path / "run" / "model.keras").read_bytes() == model
    assert main(["train", *flags, "--seed", "1", "--overwrite"]) == 0
    assert (tmp_path / "run" / "model.keras").read_bytes() != model
