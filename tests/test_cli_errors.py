"""Every user mistake the CLI can meet ends in one `error:` line and exit 2 (usage) or 1 (runtime),
before any data is read or model built where the flags alone show it; `--debug` shows the traceback."""

import json
import os
import zipfile

import keras
import numpy as np
import pytest
from cli_flags import one_error_line

import perceiver_tf
from perceiver_tf import cli
from perceiver_tf.cli import main
from perceiver_tf.errors import OptionError
from perceiver_tf.workflows.predict import non_finite_problem

# `--data` names nothing, so each case is refused by its flags before a source is resolved.
NO_DATA = ["--data", "/nonexistent/data"]


@pytest.mark.parametrize("argv, expected", [
    (["train", "--preset", "nope"], "unknown --preset 'nope'; valid presets: tiny, small"),
    (["train", "--set", "not_a_key=1"], "unknown --set key(s) ['not_a_key']"),
    (["train", "--set", "num_latents"], "--set expects KEY=VALUE"),
    (["train", "--set", "num_classes=3"], "--set num_classes is taken from the data"),
    (["train", "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    (["train", "--learning-rate", "-1"], "argument --learning-rate: must be > 0.0"),
    (["train", "--label-smoothing", "2.0"], "argument --label-smoothing: must be in [0.0, 1.0)"),
    (["train", "--cpu-devices", "-1"], "argument --cpu-devices: must be >= 0"),
    (["train", "--validation-fraction", "1"], "must be in (0.0, 1.0)"),
    (["train", "--learning-rate", "nan"], "expected a finite number"),
    (["train", "--verbose", "loud"], "expected auto, 0, 1 or 2"),
    (["train", "--warmup-epochs", "5", "--epochs", "5"], "--warmup-epochs 5.0 must be fewer than --epochs 5"),
    (["train", "--scale", "2", "1"], "needs LOW <= HIGH"),
    (["train", "--local-geometry", "2"], "argument --local-geometry: must be 0 (off) or >= 3 neighbours, got 2"),
    (["train", "--tpu", "my-tpu", "--strategy", "mirrored"], "--tpu names a TPU for --strategy tpu"),
    (["evaluate", "--model", "m.keras", "--batch-size", "0"], "argument --batch-size: must be >= 1"),
    (["predict", "--model", "m.keras", "--top-k", "0", "x.png"], "argument --top-k: must be >= 1"),
    (["attention", "--model", "m.keras", "--latents", "-2", "--out", "a.png", "x.png"], "argument --latents"),
])
@pytest.mark.e2e
def test_flag_mistakes_are_usage_errors_before_any_work(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:  # argparse's own errors exit while parsing
        status = main([*argv, *NO_DATA] if argv[0] == "train" else argv)
        raise SystemExit(status)
    assert exit_info.value.code == 2
    assert expected in one_error_line(capsys)


@pytest.mark.e2e
def test_output_directory_that_is_a_file_or_unwritable(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["train", "--output-dir", str(a_file / "run"), *NO_DATA]) == 2
    assert f"{str(a_file)!r} is a file" in one_error_line(capsys)
    assert main(["train", "--output-dir", "/proc/self/perceiver-run", *NO_DATA]) == 1  # a read-only file system
    assert "is not writable" in one_error_line(capsys)
    assert main(["attention", "--model", "m.keras", "--out", str(tmp_path), "x.png"]) == 2
    assert "is a directory; pass a file name" in one_error_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
@pytest.mark.e2e
def test_read_only_output_directory(tmp_path, capsys):
    read_only = tmp_path / "ro"
    read_only.mkdir(mode=0o500)
    assert main(["train", "--output-dir", str(read_only), *NO_DATA]) == 1
    assert "is not writable" in one_error_line(capsys)


@pytest.mark.e2e
def test_a_strategy_that_cannot_start(tmp_path, capsys):
    """TensorFlow: no TPU here (exit 1). JAX: tf.distribute's TPU strategy does not exist there (usage, exit 2)."""
    status = main(["train", "--strategy", "tpu", "--output-dir", str(tmp_path / "o"), *NO_DATA])
    line = one_error_line(capsys)
    if keras.backend.backend() == "jax":
        assert status == 2 and "--strategy tpu under KERAS_BACKEND=jax" in line and "--strategy auto" in line
    else:
        assert status == 1 and "--strategy tpu cannot start" in line and "--strategy auto" in line


def _write_broken_models(root):
    (root / "empty.keras").write_bytes(b"")
    (root / "text.keras").write_text("not a zip")
    with zipfile.ZipFile(root / "no_config.keras", "w") as archive:
        archive.writestr("model.weights.h5", "x")
    with zipfile.ZipFile(root / "bad_json.keras", "w") as archive:
        archive.writestr("config.json", "{not json")
    with zipfile.ZipFile(root / "bad_config.keras", "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "NoSuchLayer", "config": {}}))
    model = perceiver_tf.build_classifier("tiny", (4, 4, 1), 2, num_latents=4, latent_dim=8, num_bands=2)
    model.save(root / "good.keras")
    data = (root / "good.keras").read_bytes()
    (root / "truncated.keras").write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("name, expected", [
    ("missing.keras", "does not exist"),
    ("empty.keras", "is empty (0 bytes)"),
    ("text.keras", "is not a .keras archive (corrupt or truncated)"),
    ("truncated.keras", "is not a .keras archive (corrupt or truncated)"),
    ("no_config.keras", "zip file without config.json"),
    ("bad_json.keras", "unreadable config.json"),
    ("bad_config.keras", "does not load as a Keras model"),
    ("good.keras", "lacks metadata"),
    (".", "is a directory"),
])
@pytest.mark.e2e
def test_unusable_model_files_are_named_for_what_they_are(tmp_path_factory, name, expected, capsys):
    root = tmp_path_factory.getbasetemp() / "broken_models"
    if not root.exists():
        root.mkdir()
        _write_broken_models(root)
    assert main(["predict", "--model", str(root / name), "x.png"]) == 1
    assert expected in one_error_line(capsys)


@pytest.mark.e2e
def test_predict_refuses_non_finite_inputs_with_valid_json(tmp_path, capsys):
    """A recording with a NaN is refused per file (strict JSON, no TF internals); the other file is classified."""
    preprocessing = {"modality": "sensors", "num_steps": 8, "channels": 2}
    model = perceiver_tf.build_classifier("tiny", (8, 2), 2, input_kind="sequence", num_latents=4, latent_dim=8,
                                          num_bands=2, metadata={"class_names": ["a", "b"], "modality": "sensors",
                                                                 "preprocessing": preprocessing})
    model.save(tmp_path / "m.keras")
    good = np.random.default_rng(0).normal(size=(8, 2))
    bad = good.copy()
    bad[3, 1] = np.nan
    np.savetxt(tmp_path / "good.csv", good, delimiter=",")
    np.savetxt(tmp_path / "bad.csv", bad, delimiter=",")
    assert main(["predict", "--model", str(tmp_path / "m.keras"), str(tmp_path / "bad.csv"),
                 str(tmp_path / "good.csv")]) == 1
    bad_line, good_line = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # strict JSON
    assert "top_k" not in bad_line and "finite" in bad_line["error"] and "{{" not in bad_line["error"]
    assert good_line["top_k"][0]["class"] in ("a", "b")


def test_non_finite_model_inputs_are_named():
    example = {"audio": np.zeros((4, 2), np.float32), "video": np.full((2, 2), np.inf, np.float32)}
    assert non_finite_problem(example) == "non-finite values (NaN or Inf) in the video after preprocessing"
    assert non_finite_problem(np.zeros(3)) is None


@pytest.mark.e2e
def test_unexpected_errors_say_internal_and_debug_shows_the_traceback(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cli, "_presets", broken)
    assert main(["presets"]) == 1
    line = one_error_line(capsys)
    assert "internal error (RuntimeError: boom)" in line and "--debug" in line
    with pytest.raises(RuntimeError, match="boom"):
        main(["presets", "--debug"])
    with pytest.raises(OptionError, match="unknown --preset"):
        main(["--debug", "train", "--preset", "nope"])


def _point_folder(root, per_class: int = 3):
    rng = np.random.default_rng(0)
    for name in ("cube", "ball"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            np.savetxt(root / name / f"{i}.xyz", rng.normal(size=(16, 3)))
    return root


@pytest.mark.parametrize("flags, expected", [
    (["--image-size", "8", "8"], "--image-size applies to images and audio + video clips, but this data is point "
                                 "clouds; remove it."),
    (["--rand-augment", "--mel-bins", "32"], "--rand-augment applies to images; --mel-bins applies to audio and "
                                             "audio + video clips, but this data is point clouds; remove them."),
    (["--cutmix", "1"], "--cutmix cuts image patches, but this data is points"),
    (["--align", "none", "--frame-sample", "0.5"], "--frame-sample varies the principal-axis frame of --align pca, "
                                                   "but --align none: set both or neither"),
])
@pytest.mark.e2e
def test_flags_of_another_modality_are_usage_errors(tmp_path, flags, expected, capsys):
    data = _point_folder(tmp_path / "points")
    assert main(["train", "--data", str(data), "--output-dir", str(tmp_path / "run"), *flags]) == 2
    assert expected in one_error_line(capsys)
    assert not (tmp_path / "run" / "model.keras").exists()


@pytest.mark.e2e
def test_data_warnings_are_one_line(capsys):
    import warnings

    from perceiver_tf.data import DataWarning

    assert main(["presets"]) == 0  # installs the one-line display
    capsys.readouterr()
    warnings.warn("images differ in size: 2 x 2 (1 file), 8 x 8 (5 files)", DataWarning)
    assert capsys.readouterr().err == "warning: images differ in size: 2 x 2 (1 file), 8 x 8 (5 files)\n"


@pytest.mark.e2e
def test_predict_on_a_huge_finite_point_cloud_is_finite_json(tmp_path, capsys):
    """Coordinates near float32's limit once overflowed the normalisation into a bare `NaN` line with exit 0."""
    model = perceiver_tf.build_classifier("tiny", (16, 3), 2, input_kind="points", num_latents=4, latent_dim=8,
                                          num_bands=2, metadata={"class_names": ["a", "b"], "modality": "points",
                                                                 "preprocessing": {"modality": "points",
                                                                                   "num_points": 16}})
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(scale=0.5, size=w.shape) for w in model.get_weights()])  # not a uniform output
    model.save(tmp_path / "m.keras")
    cloud = rng.normal(size=(16, 3))
    np.savetxt(tmp_path / "unit.xyz", cloud)
    np.savetxt(tmp_path / "huge.xyz", cloud * 1e37)  # the same shape, 1e37 times larger
    assert main(["predict", "--model", str(tmp_path / "m.keras"), str(tmp_path / "unit.xyz"),
                 str(tmp_path / "huge.xyz")]) == 0
    unit, huge = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # strict JSON
    probabilities = [[entry["probability"] for entry in line["top_k"]] for line in (unit, huge)]
    assert abs(probabilities[0][0] - 0.5) > 0.01  # the classes are told apart
    assert probabilities[1] == pytest.approx(probabilities[0], abs=1e-5)  # normalisation removes the scale


@pytest.mark.e2e
def test_running_out_of_memory_suggests_a_smaller_run(monkeypatch, capsys):
    import tensorflow as tf

    def out_of_memory(args):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[64,512,512]")

    monkeypatch.setattr(cli, "_presets", out_of_memory)
    assert main(["presets"]) == 1
    line = one_error_line(capsys)
    assert "out of memory (OOM when allocating" in line and "smaller --batch-size" in line


@pytest.mark.e2e
def test_a_full_disk_says_so_and_what_rerunning_does(monkeypatch, tmp_path, capsys):
    """Not "out of memory" (TensorFlow reports a full disk as ResourceExhaustedError): the disk, where,
    and each command's way on."""
    import importlib

    import tensorflow as tf

    train, export = (importlib.import_module(f"perceiver_tf.workflows.{name}") for name in ("train", "export"))

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train, "train", full_disk)
    assert main(["train", "--output-dir", str(tmp_path / "run")]) == 1
    assert one_error_line(capsys) == (f"error: the disk is full writing {tmp_path / 'run'} ([Errno 28] No space "
                                      "left on device); free space or pass another --output-dir; rerunning the same "
                                      "command resumes from the last completed epoch")

    def full_disk_in_tensorflow(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "serving/1/variables: No space left on device")

    monkeypatch.setattr(export, "export_model", full_disk_in_tensorflow)
    assert main(["export", "--model", "m.keras", "--output", "serving"]) == 1
    assert one_error_line(capsys) == ("error: the disk is full (serving/1/variables: No space left on device); free "
                                      "space or pass another --output; nothing was half-written")  # path named once


@pytest.mark.e2e
def test_files_that_cannot_be_read_are_listed_under_the_error(tmp_path, capsys):
    from perceiver_tf.testing.synthetic import write_image_folder

    write_image_folder(str(tmp_path / "data"), per_class=3, size=8)
    (tmp_path / "data" / "left" / "broken.png").write_bytes(b"not a png")
    assert main(["train", "--data", str(tmp_path / "data"), "--output-dir", str(tmp_path / "run")]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == (f"error: --data '{tmp_path / 'data'}': 1 image file(s) could not be decoded; fix or remove "
                        "them, or pass --skip-bad-files:"), lines
    assert len(lines) == 2 and lines[1].startswith(f"  {tmp_path / 'data' / 'left' / 'broken.png'}: "), lines
