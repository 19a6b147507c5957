"""`ClassCrossentropy` / `ClassAccuracy`: Keras' sparse and categorical values for class ids and rows, and a
model compiled on one-hot rows that still fits class ids after a save and load."""

import subprocess
import sys

import keras
import numpy as np
import pytest

import perceiver_tf
from perceiver_tf.training import compile_classifier
from perceiver_tf.training.losses import ClassAccuracy, ClassCrossentropy

rng = np.random.default_rng(0)
LOGITS = rng.normal(size=(6, 4)).astype("float32")
IDS = np.array([0, 3, 1, 1, 2, 3])
ROWS = np.eye(4, dtype="float32")[IDS]
SOFT = rng.dirichlet(np.ones(4), size=6).astype("float32")


def _value(loss_or_metric, y_true, y_pred=LOGITS):
    if isinstance(loss_or_metric, keras.metrics.Metric):
        loss_or_metric.reset_state()
        loss_or_metric.update_state(y_true, y_pred)
        return float(loss_or_metric.result())
    return float(loss_or_metric(y_true, y_pred))


@pytest.mark.parametrize("from_logits", [True, False])
def test_the_loss_is_keras_sparse_loss_on_ids_and_categorical_loss_on_rows(from_logits):
    y_pred = LOGITS if from_logits else keras.ops.softmax(LOGITS)
    ours = ClassCrossentropy(from_logits=from_logits)
    sparse = _value(keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits), IDS, y_pred)
    assert _value(ours, IDS, y_pred) == pytest.approx(sparse, rel=1e-6)
    assert _value(ours, IDS[:, None], y_pred) == pytest.approx(sparse, rel=1e-6)
    assert _value(ours, ROWS, y_pred) == pytest.approx(sparse, rel=1e-6)
    categorical = keras.losses.CategoricalCrossentropy(from_logits=from_logits)
    assert _value(ours, SOFT, y_pred) == pytest.approx(_value(categorical, SOFT, y_pred), rel=1e-6)


def test_label_smoothing_applies_to_ids_as_to_their_one_hot_rows():
    smoothed = _value(keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), ROWS)
    ours = ClassCrossentropy(label_smoothing=0.1)
    assert _value(ours, IDS) == pytest.approx(smoothed, rel=1e-6)
    assert _value(ours, ROWS) == pytest.approx(smoothed, rel=1e-6)
    assert _value(ours, IDS) > _value(ClassCrossentropy(), IDS)


def test_the_accuracy_is_keras_accuracy_for_ids_and_rows():
    expected = float(np.mean(LOGITS.argmax(-1) == IDS))
    assert 0 < expected < 1
    for labels in (IDS, IDS[:, None], ROWS):
        assert _value(ClassAccuracy(), labels) == pytest.approx(expected)
    assert _value(ClassAccuracy(), SOFT) == pytest.approx(float(np.mean(LOGITS.argmax(-1) == SOFT.argmax(-1))))


def test_a_model_compiled_for_one_hot_rows_fits_class_ids_after_save_and_load(tmp_path):
    x = rng.random((32, 6, 6, 1), "float32")
    ids = (x.mean(axis=(1, 2, 3)) > 0.5).astype("int32")
    model = perceiver_tf.build_classifier("tiny", (6, 6, 1), 2, num_latents=8, latent_dim=16, num_blocks=1,
                                          num_self_attends_per_block=1, num_cross_attends=1, num_bands=2)
    compile_classifier(model, total_steps=1000, optimizer="adamw", learning_rate=1e-3, label_smoothing=0.1)
    model.fit(x, np.eye(2, dtype="float32")[ids], batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.loss, ClassCrossentropy) and loaded.loss.label_smoothing == 0.1
    before = [w.copy() for w in loaded.get_weights()]
    loaded.fit(x, ids, batch_size=8, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, loaded.get_weights()))
    logs = loaded.evaluate(x, ids, batch_size=len(x), verbose=0, return_dict=True)
    log_p = np.asarray(keras.ops.log_softmax(loaded.predict(x, verbose=0)), np.float64)
    smoothed = np.eye(2)[ids] * 0.9 + 0.1 / 2  # label smoothing 0.1 applied to the class ids
    assert logs["loss"] == pytest.approx(float(-(smoothed * log_p).sum(-1).mean()), rel=1e-4)
    assert logs["accuracy"] == pytest.approx(float(np.mean(log_p.argmax(-1) == ids)))


@pytest.mark.e2e
def test_import_perceiver_tf_is_enough_to_load_a_compiled_classifier(tmp_path):
    """Keras finds the loss and metric classes in a fresh process that imported only `perceiver_tf`."""
    model = perceiver_tf.build_classifier("tiny", (4, 4, 1), 3, num_latents=4, latent_dim=8, num_blocks=1,
                                          num_self_attends_per_block=1, num_cross_attends=1, num_bands=1)
    compile_classifier(model, total_steps=10, optimizer="adamw", learning_rate=1e-3)
    model.save(tmp_path / "model.keras")
    script = ("import keras, numpy as np, perceiver_tf; model = keras.models.load_model('model.keras'); "
              "logs = model.evaluate(np.zeros((2, 4, 4, 1)), np.array([0, 2]), verbose=0, return_dict=True); "
              "print(type(model.loss).__name__, sorted(logs))")
    printed = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert printed.stdout.split()[0] == "ClassCrossentropy" and "'accuracy'" in printed.stdout


def test_zero_weight_examples_count_in_no_score():
    """`compile_classifier` weights its metric: the copies that pad a batch (`PipelineOptions.batch_multiple`,
    at weight 0) change neither the accuracy nor the loss. Compiled as plain `metrics`, Keras counted them."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(1).random((8, 6, 6, 1), dtype="float32")
    ids = np.arange(8) % 2
    model = perceiver_tf.build_classifier("tiny", (6, 6, 1), 2, num_latents=8, latent_dim=16, num_blocks=1,
                                          num_self_attends_per_block=1, num_cross_attends=1, num_bands=2)
    compile_classifier(model, total_steps=10, optimizer="adamw")
    correct = model.predict(x, verbose=0).argmax(-1) == ids
    real = np.flatnonzero(correct)[:1].tolist() + np.flatnonzero(~correct)[:2].tolist()  # 1 of 3 right
    padded = real + [real[-1]] * 5  # the last example repeated at weight 0, as `pad_to_multiple` does
    weights = np.array([1.0] * len(real) + [0.0] * 5, "float32")
    logs = model.evaluate(x[padded], ids[padded], sample_weight=weights, batch_size=8, verbose=0, return_dict=True)
    unpadded = model.evaluate(x[real], ids[real], batch_size=8, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(1 / 3) and unpadded["accuracy"] == pytest.approx(1 / 3)
    assert logs["loss"] == pytest.approx(unpadded["loss"], rel=1e-5)
