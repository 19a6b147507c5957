"""The Python API is the CLI's implementation: `perceiver_tf.train / evaluate / predict` give what
`perceiver-tf train / evaluate / predict` give, from folders, files and raw arrays."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from cli_flags import TINY_TRAIN_FLAGS
from PIL import Image

import perceiver_tf
from perceiver_tf.cli import main
from perceiver_tf.testing.synthetic import write_image_folder
from perceiver_tf.workflows.options import TrainOptions

pytestmark = pytest.mark.tensorflow_only  # tf.data pipelines (see pyproject.toml)


def _keywords(flags: list[str]) -> dict:
    """`perceiver-tf train` flags -> `perceiver_tf.train` keywords (the `--set` pairs into one dict)."""
    from perceiver_tf.cli import build_parser
    from perceiver_tf.commands.train import parse_overrides

    args = build_parser().parse_args(["train", *flags])
    keywords = {name: getattr(args, name) for name in TrainOptions.__dataclass_fields__}
    keywords["set"] = parse_overrides(args.set)
    defaults = TrainOptions()
    return {name: value for name, value in keywords.items() if value != getattr(defaults, name)}


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """`perceiver_tf.train(folder, epochs=3, ...)` on a generated image folder: `(run, folder)`."""
    folder = tmp_path_factory.mktemp("images")
    write_image_folder(str(folder), per_class=12, size=16)
    run = perceiver_tf.train(str(folder), str(folder.parent / "run"), epochs=3, verbose=0,
                             **_keywords(TINY_TRAIN_FLAGS))
    return run, folder


@pytest.mark.e2e
def test_train_returns_the_model_and_the_files_of_a_cli_run(image_run, tmp_path, capsys):
    """The result's metrics are metrics.json's, its history history.csv's; a CLI run with the same
    flags writes the same kind of files with the same keys and the same recipe."""
    run, folder = image_run
    on_disk = json.loads((run.output_dir / "metrics.json").read_text())
    assert run.metrics == on_disk
    assert len(run.history["accuracy"]) == run.metrics["epochs"] == 3
    assert run.recipe == run.model.metadata["recipe"] and run.recipe["flags"]["--epochs"] == 3
    assert run.model.metadata["class_names"] == sorted(p.name for p in folder.iterdir() if p.is_dir())

    cli_dir = tmp_path / "cli"
    assert main(["train", "--data", str(folder), "--output-dir", str(cli_dir), "--epochs", "3", "--verbose", "0",
                 *TINY_TRAIN_FLAGS]) == 0
    cli_metrics = json.loads((cli_dir / "metrics.json").read_text())
    assert set(cli_metrics) == set(on_disk)
    assert cli_metrics["recipe"] == run.recipe and cli_metrics["preprocessing"] == on_disk["preprocessing"]
    # Same seed, same data, same recipe: the same run.
    assert cli_metrics["val_accuracy"] == pytest.approx(on_disk["val_accuracy"], abs=1e-6)
    assert sorted(p.name for p in cli_dir.iterdir()) == sorted(p.name for p in run.output_dir.iterdir())


@pytest.mark.e2e
def test_predict_on_raw_arrays_equals_the_cli_on_the_same_examples_as_files(image_run, tmp_path, capsys):
    """uint8 images of any size give what `perceiver-tf predict` prints for the same pixels saved as PNG."""
    run, _ = image_run
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (16, 16, 3), np.uint8), rng.integers(0, 256, (40, 24, 3), np.uint8),
              rng.integers(0, 256, (9, 9), np.uint8)]
    paths = []
    for i, image in enumerate(images):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image).save(paths[-1])
    from_arrays = perceiver_tf.predict(run.model, images, top_k=3)
    capsys.readouterr()
    assert main(["predict", "--model", str(run.output_dir / "model.keras"), "--top-k", "3", *paths]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["file"] for line in printed] == paths
    for array_line, file_line in zip(from_arrays, printed, strict=True):
        assert "file" not in array_line
        assert [c["class"] for c in array_line["top_k"]] == [c["class"] for c in file_line["top_k"]]
        np.testing.assert_allclose([c["probability"] for c in array_line["top_k"]],
                                   [c["probability"] for c in file_line["top_k"]], atol=1e-4)
    # The model's own path gives the same; and a batch array is one example per row.
    assert perceiver_tf.predict(str(run.output_dir / "model.keras"), paths, top_k=3) == printed
    assert perceiver_tf.predict(run.model, np.stack([images[0], images[0]]), top_k=3) == [from_arrays[0]] * 2


@pytest.mark.e2e
def test_predict_refuses_a_non_finite_example_and_answers_the_others(image_run):
    """A point cloud / sensor model is not needed: an image model refuses float images by name, and
    `classify` refuses an example holding NaN while the next is answered."""
    run, _ = image_run
    with pytest.raises(perceiver_tf.OptionError, match="uint8"):
        perceiver_tf.predict(run.model, [np.zeros((16, 16, 3), np.float32)])
    from perceiver_tf.data.model_inputs import model_input_from_array, processor_of
    from perceiver_tf.workflows.predict import classify

    processor = processor_of(run.model)
    good = np.asarray(model_input_from_array(processor, np.zeros((16, 16, 3), np.uint8)))
    bad = good.copy()
    bad[3, 4, 0] = np.nan
    names = run.model.metadata["class_names"]
    assert classify(run.model, names, bad, 2) == {
        "error": "non-finite values (NaN or Inf) in the input after preprocessing"}
    assert len(classify(run.model, names, good, 2)["top_k"]) == 2


@pytest.mark.e2e
def test_evaluate_scores_the_model_as_training_did(image_run, capsys):
    """`evaluate(model)` on its own validation split gives metrics.json's score, as the CLI prints it."""
    run, folder = image_run
    scores = perceiver_tf.evaluate(run.model, str(folder), split="val")
    assert scores["accuracy"] == pytest.approx(run.metrics["val_accuracy"], abs=1e-6)
    assert scores["loss"] == pytest.approx(run.metrics["val_loss"], rel=1e-5)
    capsys.readouterr()
    model_path = str(run.output_dir / "model.keras")
    assert main(["evaluate", "--model", model_path, "--data", str(folder), "--split", "val"]) == 0
    assert json.loads(capsys.readouterr().out) == {**scores, "model": model_path}


@pytest.mark.e2e
def test_train_on_arrays_records_in_memory_data(tmp_path):
    """`(x, y)` arrays train; the model records that its data cannot be read again, and evaluate says so."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.integers(0, 80, (24, 8, 8)), rng.integers(170, 256, (24, 8, 8))]).astype(np.uint8)
    y = np.repeat([0, 1], 24)
    run = perceiver_tf.train((x, y), tmp_path / "run", class_names=["dark", "light"], epochs=4, verbose=0,
                             **_keywords(TINY_TRAIN_FLAGS))
    assert run.model.metadata["data"] == "arrays" and run.model.metadata["class_names"] == ["dark", "light"]
    assert run.metrics["val_accuracy"] >= 0.9  # dark vs light 8x8 images: separable at once
    with pytest.raises(perceiver_tf.OptionError, match="pass data"):
        perceiver_tf.evaluate(run.model)


@pytest.mark.parametrize("keywords, expected", [
    ({"epochz": 3}, "unknown option(s) epochz (did you mean epochs?)"),
    ({"epochs": 0}, "epochs: must be >= 1, got 0."),
    ({"learning_rate": float("nan")}, "learning_rate: expected a finite number, got nan."),
    ({"optimizer": "sgd"}, "optimizer 'sgd' is not one of: lamb, adamw."),
    ({"epochs": 2, "warmup_epochs": 2}, "warmup_epochs=2 must be fewer than epochs=2."),
    ({"freeze_backbone": True}, "freeze_backbone keeps a trained model's backbone: add init_from='MODEL.keras'."),
    ({"preset": "nosuch"}, "unknown preset 'nosuch'"),
])
def test_bad_options_are_one_line_naming_the_keyword(keywords, expected, tmp_path):
    """From Python, options are refused before any data is read, by their keyword names."""
    with pytest.raises(perceiver_tf.OptionError) as raised:
        perceiver_tf.train("no/such/data", tmp_path / "run", **keywords)
    assert expected in str(raised.value) and "\n" not in str(raised.value)
    assert "--" not in str(raised.value)


@pytest.mark.e2e
@pytest.mark.parametrize("first", ["import keras", "import tensorflow", "perceiver_tf.ImageAdapter",
                                   "from perceiver_tf.layers import CrossAttention"])
def test_one_import_path_loads_nothing_heavy_until_a_name_is_used(first):
    """`import perceiver_tf` (and the CLI's module) load neither Keras nor TensorFlow, however Python
    was started; importing Keras afterwards (directly, through TensorFlow, which only looks Keras up
    first, or through a perceiver_tf module that needs it) registers every perceiver_tf class for
    `load_model`, and TensorFlow's native start-up lines and C++ warnings stay out of stderr."""
    script = ("import sys\nimport perceiver_tf, perceiver_tf.cli\n"
              "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, 'loaded early'\n"
              "assert 'train' in perceiver_tf.__all__ and 'build_classifier' in dir(perceiver_tf)\n"
              f"{first}\nimport keras\n"
              "for name in ('PerceiverClassifier', 'ImagePreprocessor', 'ClassCrossentropy', 'CrossAttention'):\n"
              "    assert keras.saving.get_registered_object('perceiver_tf>' + name) is not None, name\n"
              "import tensorflow as tf\n"
              "try:\n    tf.io.read_file('/no/such/file.png')\nexcept tf.errors.NotFoundError:\n    pass\n")
    env = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    for argv0 in ("-c", "perceiver-tf"):
        result = subprocess.run([sys.executable, "-c", f"import sys; sys.argv[0] = {argv0!r}\n" + script],
                                capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stderr == ""


@pytest.mark.e2e
def test_a_log_level_the_user_set_is_left_to_tensorflow():
    """With `TF_CPP_MIN_LOG_LEVEL` set before perceiver_tf, TensorFlow's own lines are as without it."""
    def native_lines(script):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
        return [line.split("]")[-1] for line in result.stderr.splitlines() if "port.cc" in line]

    alone = native_lines("import tensorflow")
    assert native_lines("import perceiver_tf, tensorflow") == alone


@pytest.mark.parametrize("call, expected", [
    (lambda out: perceiver_tf.predict("missing.keras", ["x.png"], top_k=0), "top_k: must be >= 1, got 0."),
    (lambda out: perceiver_tf.evaluate("missing.keras", split="test"), "split 'test' is not one of: auto, val, all."),
    (lambda out: perceiver_tf.evaluate("missing.keras", batch_size=0), "batch_size: must be >= 1, got 0."),
    (lambda out: perceiver_tf.plot_attention("missing.keras", "x.png", out / "a.png", latents=0),
     "latents: must be >= 1, got 0."),
    (lambda out: perceiver_tf.export_model("missing.keras", out, version=-1), "version: must be >= 0, got -1."),
])
def test_the_other_workflows_check_their_options_before_the_model(call, expected, tmp_path):
    """evaluate / predict / plot_attention / export_model refuse a bad value by its keyword, with the rule
    the CLI's flag has, before they look for the model."""
    with pytest.raises(perceiver_tf.OptionError) as raised:
        call(tmp_path)
    assert str(raised.value) == expected
