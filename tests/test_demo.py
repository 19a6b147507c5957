"""The README's main job: `perceiver-tf train` on the offline digits learns."""

import json

import keras
import numpy as np
import pytest

from perceiver_tf.backend_support import JIT_COMPILE_ENV
from perceiver_tf.cli import main
from perceiver_tf.data import load_digits_split

pytestmark = [pytest.mark.e2e, pytest.mark.tensorflow_only]  # see pyproject.toml


@pytest.mark.slow
def test_default_train_command_reaches_90_percent_on_digits(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(JIT_COMPILE_ENV, raising=False)  # the defaults exactly as a user gets them
    assert main(["train", "--output-dir", str(tmp_path)]) == 0
    assert "Keras backend tensorflow, jit_compile True (default)." in capsys.readouterr().out  # fixed shapes: XLA
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["val_accuracy"] >= 0.90
    assert (tmp_path / "history.csv").read_text().count("\n") == metrics["epochs"] + 1
    model = keras.models.load_model(tmp_path / "model.keras")
    _, (x_val, y_val) = load_digits_split()
    accuracy = float(np.mean(np.argmax(model.predict(x_val, verbose=0), -1) == y_val))
    assert accuracy == pytest.approx(metrics["val_accuracy"], abs=1e-6)
