"""`perceiver-tf train` fills the flags a user leaves out from the data (the recipe), says so, records
it, and lets every flag override it; early stopping keeps the best epoch's weights."""

import json

import keras
import numpy as np
import pytest

from perceiver_tf import build_classifier
from perceiver_tf.cli import main
from perceiver_tf.testing import synthetic
from perceiver_tf.training import compile_classifier, train_classifier
from perceiver_tf.workflows.model_files import load_trained_model

pytestmark = pytest.mark.tensorflow_only  # the CLI's data pipelines are tf.data

#: A small architecture on top of whichever preset the recipe picks (the --set keys of every preset).
SMALL_MODEL = ["--set", "num_latents=8", "--set", "latent_dim=16", "--set", "num_blocks=1", "--set",
               "num_self_attends_per_block=1", "--set", "num_cross_attends=1", "--set", "num_bands=2",
               "--batch-size", "8"]


def _train(tmp_path, data, *flags):
    out = tmp_path / "out"
    assert main(["train", "--data", str(data), "--output-dir", str(out), "--no-tensorboard", "--verbose", "0",
                 *SMALL_MODEL, *flags]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def _recipe_line(capsys) -> str:
    return next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Recipe"))


# Given, the local geometry is decoded with the clouds: the orientation is still read from their xyz.
@pytest.mark.parametrize("geometry", [[], ["--local-geometry", "8"]])
@pytest.mark.e2e
def test_rotated_point_clouds_get_principal_axis_alignment(tmp_path, capsys, geometry):
    data = tmp_path / "shapes"
    synthetic.write_rotated_shapes_folder(str(data), per_class=5, counts=(60, 120), seed=0)
    out, metrics = _train(tmp_path, data, "--epochs", "2", *geometry)
    neighbors = int(geometry[1]) if geometry else 32
    line = _recipe_line(capsys)
    assert "--preset tiny" in line and "--align pca" in line and "--rotate none" in line and "--epochs" not in line
    assert "--frame-sample 0.5" in line and "--num-points 128 (median cloud of" in line  # 60-119 points
    recipe = metrics["recipe"]
    assert recipe["flags"]["--align"] == "pca" and recipe["flags"]["--epochs"] == 2  # given: recorded, not chosen
    assert "--epochs" not in recipe["chosen"] and "any orientation" in recipe["chosen"]["--align"]
    assert recipe["flags"]["--learning-rate"] == 3e-3 and recipe["flags"]["--point-dropout"] == 0.2
    model, metadata = load_trained_model(str(out / "model.keras"))
    assert metadata["preprocessing"]["align"] == "pca"  # serving aligns too
    assert recipe["flags"]["--local-geometry"] == metadata["preprocessing"]["local_geometry"] == neighbors
    assert model.input_shape == (None, 128, 9)  # xyz + the local geometry of each point
    assert metadata["preprocessing"]["num_points"] == recipe["flags"]["--num-points"] == 128
    assert model.count_params() < build_classifier("small", (128, 3), 6, input_kind="points").count_params()


@pytest.mark.e2e
def test_every_recipe_choice_yields_to_its_flag(tmp_path, capsys):
    data = tmp_path / "shapes"
    synthetic.write_rotated_shapes_folder(str(data), per_class=5, counts=(60, 120), seed=1)
    _, metrics = _train(tmp_path, data, "--epochs", "1", "--preset", "small", "--learning-rate", "5e-4",
                        "--align", "none", "--rotate", "z", "--local-geometry", "0", "--jitter", "0", "--axis-scale", "1", "1",
                        "--point-dropout", "0", "--frame-sample", "0", "--num-points", "64", "--early-stopping", "0")
    assert _recipe_line(capsys) == "Recipe: every choice given by a flag."
    assert metrics["recipe"]["chosen"] == {}
    assert metrics["recipe"]["flags"] == {"--preset": "small", "--learning-rate": 5e-4, "--epochs": 1,
                                          "--early-stopping": 0, "--align": "none", "--rotate": "z", "--local-geometry": 0,
                                          "--jitter": 0.0,
                                          "--axis-scale": [1.0, 1.0], "--point-dropout": 0.0, "--frame-sample": 0.0,
                                          "--num-points": 64}


@pytest.mark.parametrize("flag, centred", [(None, True), ("--no-center-recordings", False)])
@pytest.mark.e2e
def test_sensor_recordings_with_static_offsets_are_centred(tmp_path, capsys, flag, centred):
    data = tmp_path / "sensors"
    synthetic.write_sensor_folder(str(data), per_class=6, seed=0)  # gravity: a random offset per recording
    out, metrics = _train(tmp_path, data, "--epochs", "1", *([flag] if flag else []))
    assert metrics["recipe"]["flags"]["--center-recordings"] is centred
    assert ("--center-recordings True" in _recipe_line(capsys)) is (flag is None)
    _, metadata = load_trained_model(str(out / "model.keras"))
    assert metadata["preprocessing"].get("center", False) is centred


@pytest.mark.parametrize("flags, mixup", [([], 0.2), (["--permute-pixels", "3"], 0.2), (["--cutmix", "1"], 0.0),
                                          (["--mixup", "0"], 0.0)])
@pytest.mark.e2e
def test_images_get_mixup_unless_a_mixing_flag_is_given(tmp_path, capsys, flags, mixup):
    data = tmp_path / "images"
    synthetic.write_image_folder(str(data), per_class=4, size=8)
    _, metrics = _train(tmp_path, data, "--epochs", "1", *flags)
    recipe = metrics["recipe"]
    assert recipe["flags"]["--mixup"] == mixup and ("--mixup" in recipe["chosen"]) is (not flags or "--permute-pixels" in flags)
    assert ("--mixup 0.2" in _recipe_line(capsys)) is (mixup > 0)


@pytest.mark.parametrize("flags, epochs", [([], 1500), (["--mixup", "0"], 500), (["--cutmix", "1"], 1500)])
def test_mixing_examples_trains_three_times_longer(flags, epochs):
    from types import SimpleNamespace

    from perceiver_tf.cli import build_parser
    from perceiver_tf.workflows.recipe import choose_recipe

    args = build_parser().parse_args(["train", *flags])
    choices = {c.flag: c.value for c in choose_recipe(args, SimpleNamespace(modality="image", num_train=640, num_val=160))}
    assert choices["--epochs"] == args.epochs == epochs // 10  # 10 steps per epoch
    assert choices["--preset"] == "tiny" and choices["--learning-rate"] == 3e-3  # 640 examples
    assert args.mixup == (0.0 if flags else 0.2)
    assert choices["--early-stopping"] == 0  # 160 validation examples: the last epoch is kept


@pytest.mark.e2e
def test_early_stopping_stops_and_keeps_the_best_epoch(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(48, 6, 6, 1)).astype("float32"), rng.integers(0, 3, 48)  # nothing to learn
    model = build_classifier("tiny", (6, 6, 1), 3, num_latents=8, latent_dim=16, num_blocks=1, num_cross_attends=1,
                             num_self_attends_per_block=1, num_bands=2)
    compile_classifier(model, total_steps=60, optimizer="adamw", learning_rate=3e-2)
    import tensorflow as tf

    train = tf.data.Dataset.from_tensor_slices((x[:32], y[:32])).batch(8)
    val = tf.data.Dataset.from_tensor_slices((x[32:], y[32:])).batch(8)
    result = train_classifier(model, train, val, 30, tmp_path, verbose=0, tensorboard=False,
                              early_stopping_patience=2)
    best = json.loads((tmp_path / "best.keras.json").read_text())
    assert result.epochs < 30 and result.epochs <= best["epoch"] + 1 + 2
    assert result.val_accuracy == pytest.approx(best["best"])
    saved = keras.models.load_model(tmp_path / "model.keras")
    kept = keras.models.load_model(tmp_path / "best.keras")
    for a, b in zip(saved.get_weights(), kept.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.e2e
def test_audio_clips_get_normalised_log_mel_and_augmentation_kept_by_fine_tuning(tmp_path, capsys):
    data = tmp_path / "audio"
    synthetic.write_audio_folder(str(data), per_class=4, seed=0)
    out, metrics = _train(tmp_path, data, "--epochs", "1", "--clip-seconds", "0.5")
    line = _recipe_line(capsys)
    assert "--normalize-audio True" in line and "--time-shift 0.1" in line and "--frequency-warp 0.1" in line
    assert metrics["recipe"]["flags"]["--normalize-audio"] is True
    _, metadata = load_trained_model(str(out / "model.keras"))
    assert metadata["preprocessing"]["normalize"] is True  # evaluation and serving standardise too
    # Fine-tuning keeps the model's normalisation (preprocessing) and still augments.
    tuned = tmp_path / "tuned"
    assert main(["train", "--data", str(data), "--init-from", str(out / "model.keras"), "--output-dir", str(tuned),
                 "--no-tensorboard", "--verbose", "0", "--epochs", "1", "--batch-size", "8", "--gain-db", "3"]) == 0
    line = _recipe_line(capsys)
    assert "--normalize-audio" not in line and "--frequency-warp 0.1" in line
    _, tuned_metadata = load_trained_model(str(tuned / "model.keras"))
    assert tuned_metadata["preprocessing"] == metadata["preprocessing"]


@pytest.mark.e2e
def test_audio_recipe_yields_to_its_flags(tmp_path, capsys):
    data = tmp_path / "audio"
    synthetic.write_audio_folder(str(data), per_class=4, seed=1)
    out, metrics = _train(tmp_path, data, "--epochs", "1", "--clip-seconds", "0.5", "--no-normalize-audio",
                          "--time-shift", "0", "--frequency-warp", "0.05")
    assert "--normalize-audio" not in _recipe_line(capsys)
    flags = metrics["recipe"]["flags"]
    assert (flags["--normalize-audio"], flags["--time-shift"], flags["--frequency-warp"]) == (False, 0.0, 0.05)
    _, metadata = load_trained_model(str(out / "model.keras"))
    assert "normalize" not in metadata["preprocessing"]
