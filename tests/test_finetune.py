"""Fine-tuning is a first-class path: a reloaded model (its cosine schedule at its end, learning rate 0)
warns instead of silently not training, and `perceiver-tf train --init-from` fine-tunes a trained
model (its head reused or a new one, `--freeze-backbone`) and improves it."""

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_flags import TINY_TRAIN_FLAGS, one_error_line
from faults import crash_after_each_epoch

import perceiver_tf
from perceiver_tf.cli import main
from perceiver_tf.data.digits import DIGITS_CLASS_NAMES, load_digits_split
from perceiver_tf.training import (
    classifier_from_trained,
    compile_classifier,
    head_summary,
    reuses_head,
    train_classifier,
)
from perceiver_tf.workflows.options import TrainOptions
from perceiver_tf.workflows.train import run_settings

pytestmark = pytest.mark.e2e  # see pyproject.toml

#: The tiny model's recipe flags without its learning rate (each test sets its own).
RECIPE = TINY_TRAIN_FLAGS[TINY_TRAIN_FLAGS.index("--batch-size"):TINY_TRAIN_FLAGS.index("--learning-rate")]
QUIET = ["--no-tensorboard", "--verbose", "0"]
#: Fine-tuning a model trained for one epoch on digits: 3 epochs on 500 other examples.
FINE_TUNE = ["--epochs", "3", "--learning-rate", "3e-3", *RECIPE, *QUIET]
UNTRAINABLE = "fit() will not change the weights"


def _digits():
    """The digits split of `perceiver-tf train --data digits --seed 0`: `((x, y) train, (x, y) val)`, x in [0, 1]."""
    return load_digits_split(0.2, 0)


def _accuracy(model, x, y) -> float:
    return float((model.predict(x, batch_size=256, verbose=0).argmax(-1) == y).mean())


def _weights(layer) -> list[np.ndarray]:
    return [np.array(w) for w in layer.get_weights()]


def _identical(a, b) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def _subset(path, seed, count=500, classes=None, class_names=None):
    """An `.npz` of `count` digits (pixels 0-255) from the train split, drawn with `seed`; `classes`
    keeps only those digits, relabelled 0..len-1."""
    (x, y), _ = _digits()
    if classes is not None:
        keep = np.isin(y, classes)
        x, y = x[keep], np.searchsorted(classes, y[keep])
    index = np.random.default_rng(seed).choice(len(x), min(count, len(x)), replace=False)
    names = class_names or (DIGITS_CLASS_NAMES if classes is None else [str(c) for c in classes])
    np.savez(path, x=x[index] * 255.0, y=y[index], class_names=np.array(names))
    return str(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A demo-like model: `perceiver-tf train` on digits (tiny model, one epoch: far from converged)."""
    out = tmp_path_factory.mktemp("digits")
    # With the recipe's MixUp: trained on one-hot rows, the saved model still fits class ids.
    assert main(["train", *TINY_TRAIN_FLAGS, "--epochs", "1", "--output-dir", str(out), *QUIET]) == 0
    return str(out / "model.keras")


def test_a_reloaded_model_warns_that_fit_would_not_train_it_and_indeed_does_not(trained):
    model = keras.models.load_model(trained)
    steps = int(model.optimizer.iterations)
    assert steps > 0 and float(model.optimizer.learning_rate) == 0.0  # the trap: the schedule's end
    (x, y), _ = _digits()
    before = _weights(model)
    with pytest.warns(UserWarning, match="schedule has ended") as caught:
        model.fit(x[:64], y[:64], batch_size=16, epochs=1, verbose=0)
    (message,) = [str(w.message) for w in caught if UNTRAINABLE in str(w.message)]
    assert "\n" not in message and f"step {steps} of {steps}" in message
    assert "compile_classifier" in message and "--init-from" in message
    assert _identical(before, _weights(model))  # what the warning says


def test_a_fresh_compile_warns_not_even_with_a_warm_up_from_zero(trained):
    model = classifier_from_trained(keras.models.load_model(trained))
    (x, y), _ = _digits()
    before = _weights(model)
    compile_classifier(model, total_steps=8, optimizer="adamw", learning_rate=1e-3, warmup_steps=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x[:64], y[:64], batch_size=8, epochs=1, verbose=0)
    assert not [w for w in caught if UNTRAINABLE in str(w.message)]
    assert not _identical(before, _weights(model))


def test_a_resumed_run_does_not_warn(tmp_path):
    """The resumed run is compiled afresh (step 0); `BackupAndRestore` restores its step count later."""
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices((rng.random((24, 8, 8, 1), "float32"), rng.integers(0, 2, 24))).batch(8)

    def model():
        tiny = perceiver_tf.build_classifier("tiny", (8, 8, 1), 2, num_latents=8, latent_dim=16, num_blocks=1,
                                             num_self_attends_per_block=1, num_cross_attends=1, num_bands=2)
        return compile_classifier(tiny, total_steps=6, optimizer="adamw", learning_rate=1e-2)

    with crash_after_each_epoch(KeyboardInterrupt):
        train_classifier(model(), data, data, 2, tmp_path, verbose=0, tensorboard=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train_classifier(model(), data, data, 2, tmp_path, verbose=0, tensorboard=False)
    assert result.resumed_from_epoch == 1 and result.epochs == 2
    assert not [w for w in caught if UNTRAINABLE in str(w.message)]


def test_classifier_from_trained_copies_the_model_and_saves(trained, tmp_path):
    source = keras.models.load_model(trained)
    _, (x, _) = _digits()
    same = classifier_from_trained(source, class_names=DIGITS_CLASS_NAMES, metadata={"init_from": trained})
    assert reuses_head(source, class_names=DIGITS_CLASS_NAMES)
    np.testing.assert_array_equal(same.predict(x[:16], verbose=0), source.predict(x[:16], verbose=0))
    assert not {id(v) for v in same.weights} & {id(v) for v in source.weights}  # a copy, not shared variables

    frozen = classifier_from_trained(source, class_names=["a", "b", "c"], freeze_backbone=True)
    assert frozen.output_shape == (None, 3) and not frozen.backbone.trainable
    assert [w.path for w in frozen.trainable_weights] == [w.path for w in frozen.head.weights]
    assert head_summary(source, 3, ["a", "b", "c"]) == "new head for 3 classes (the model had 10)"
    frozen.save(str(tmp_path / "frozen.keras"))
    reloaded = keras.models.load_model(str(tmp_path / "frozen.keras"))
    assert reloaded.metadata["class_names"] == ["a", "b", "c"] and not reloaded.backbone.trainable
    assert reloaded.metadata["preprocessing"] == source.metadata["preprocessing"]
    np.testing.assert_array_equal(reloaded.predict(x[:16], verbose=0), frozen.predict(x[:16], verbose=0))
    # Fine-tuning the fine-tuned model again trains its backbone unless asked not to.
    assert classifier_from_trained(reloaded).backbone.trainable


# The +0.05 margin holds for the init model TensorFlow's random stream gives (0.43); JAX's (another
# stream) starts at 0.38 and gains 0.02, though both backends fine-tune one init model alike.
@pytest.mark.tensorflow_only
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_init_from_on_a_subset_changes_the_weights_and_improves_accuracy(trained, tmp_path, capsys, seed):
    _, (x_val, y_val) = _digits()  # held out of the init model's training and of the subset
    init = keras.models.load_model(trained)
    before = _accuracy(init, x_val, y_val)
    assert before == pytest.approx(json.load(open(trained.replace("model.keras", "metrics.json")))["val_accuracy"])
    data = _subset(tmp_path / "subset.npz", seed)
    out = tmp_path / "tuned"
    assert main(["train", "--init-from", trained, "--data", data, "--seed", str(seed), "--output-dir", str(out),
                 *FINE_TUNE]) == 0
    captured = capsys.readouterr()
    assert f"Fine-tuning {trained}" in captured.out and "the model's head (10 classes)" in captured.out
    assert UNTRAINABLE not in captured.err
    tuned = keras.models.load_model(str(out / "model.keras"))
    after = _accuracy(tuned, x_val, y_val)
    print(f"seed {seed}: validation accuracy {before:.4f} (init model) -> {after:.4f} (fine-tuned on 400 digits)")
    assert after >= before + 0.05, (before, after)
    assert not _identical(_weights(init.backbone), _weights(tuned.backbone))
    assert tuned.metadata["init_from"] == trained and tuned.metadata["class_names"] == DIGITS_CLASS_NAMES
    assert tuned.metadata["preprocessing"] == init.metadata["preprocessing"]


def test_freeze_backbone_trains_only_the_head(trained, tmp_path):
    out = tmp_path / "frozen"
    data = _subset(tmp_path / "subset.npz", 0, count=200)
    assert main(["train", "--init-from", trained, "--freeze-backbone", "--data", data, "--output-dir", str(out),
                 *FINE_TUNE]) == 0
    init, tuned = keras.models.load_model(trained), keras.models.load_model(str(out / "model.keras"))
    assert _identical(_weights(init.backbone), _weights(tuned.backbone))  # bit-identical
    assert not _identical(_weights(init.head), _weights(tuned.head))
    assert not tuned.backbone.trainable


def test_other_classes_get_a_new_head(trained, tmp_path, capsys):
    out = tmp_path / "three"
    data = _subset(tmp_path / "three.npz", 0, count=300, classes=[0, 1, 7], class_names=["zero", "one", "seven"])
    assert main(["train", "--init-from", trained, "--data", data, "--output-dir", str(out), *FINE_TUNE]) == 0
    assert "new head for 3 classes (the model had 10)" in capsys.readouterr().out
    init, tuned = keras.models.load_model(trained), keras.models.load_model(str(out / "model.keras"))
    assert tuned.output_shape == (None, 3) and tuned.num_classes == 3
    assert tuned.metadata["class_names"] == ["zero", "one", "seven"] and tuned.metadata["init_from"] == trained
    assert not _identical(_weights(init.backbone), _weights(tuned.backbone))
    (x, y), _ = _digits()
    keep = np.isin(y, [0, 1, 7])
    assert _accuracy(tuned, x[keep], np.searchsorted([0, 1, 7], y[keep])) > 0.6  # chance: 1/3


@pytest.mark.parametrize("flags", [["--preset", "tiny"], ["--set", "num_latents=8"]])
def test_init_from_refuses_architecture_flags(trained, tmp_path, capsys, flags):
    assert main(["train", "--init-from", trained, *flags, "--output-dir", str(tmp_path / "o")]) == 2
    assert "--init-from takes the architecture from" in one_error_line(capsys)


def test_init_from_errors_are_one_line(trained, tmp_path, capsys):
    missing = str(tmp_path / "missing.keras")
    assert main(["train", "--init-from", missing, "--output-dir", str(tmp_path / "o")]) == 1
    assert f"--init-from {missing!r} does not exist" in one_error_line(capsys)
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    assert main(["train", "--init-from", str(tmp_path / "broken.keras"), "--output-dir", str(tmp_path / "o")]) == 1
    assert "not a .keras archive" in one_error_line(capsys)
    assert main(["train", "--freeze-backbone", "--output-dir", str(tmp_path / "o")]) == 2
    assert "--init-from" in one_error_line(capsys)
    output_dir = trained.rsplit("/", 1)[0]  # fine-tuning into the init model's own directory would replace it
    assert main(["train", "--init-from", trained, "--output-dir", output_dir]) == 2
    assert "inside --output-dir" in one_error_line(capsys)
    assert main(["train", "--init-from", trained, "--image-size", "16", "16", "--output-dir", str(tmp_path / "o"),
                 *QUIET]) == 2
    assert "image_size [8, 8], but the data flags give image_size [16, 16]" in one_error_line(capsys)


def test_the_run_fingerprint_names_the_init_model(trained):
    """A backup resumes only with the same --init-from (path and file contents) and --freeze-backbone."""
    settings = run_settings("digits", TrainOptions(init_from=trained, freeze_backbone=True))
    assert settings["init_from"] == trained and settings["freeze_backbone"] is True
    assert len(settings["init_from_sha256"]) == 64
    from_scratch = run_settings("digits", TrainOptions())
    assert not {"init_from", "freeze_backbone", "init_from_sha256"} & set(from_scratch)
