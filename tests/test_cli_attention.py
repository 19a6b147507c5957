"""`perceiver-tf attention`: the PNG names the prediction and explains itself; an unreadable file is refused
(the PNG of every modality: tests/modality_matrix.py)."""

import json
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from PIL import Image

import perceiver_tf as pt
from perceiver_tf import visualize
from perceiver_tf.cli import main
from perceiver_tf.data import load_source, preprocess
from perceiver_tf.testing.synthetic import write_image_folder, write_sensor_folder
from perceiver_tf.workflows.attention import _prediction_text, _sequence_input

TINY = dict(num_latents=8, latent_dim=16, num_blocks=2, num_self_attends_per_block=1, num_bands=2)
HEAD = dict(head_kernel_initializer="glorot_uniform")  # a zero head would give every class the same probability


def _saved_model(tmp_path, data):
    source = load_source(str(data))
    model = pt.build_classifier("tiny", source.processor.input_shape, len(source.metadata["class_names"]),
                                input_kind=source.processor.input_kind, metadata=source.metadata, **TINY, **HEAD)
    model.save(tmp_path / "model.keras")
    return str(tmp_path / "model.keras")


def _report(capsys) -> dict:
    return json.loads([line for line in capsys.readouterr().out.splitlines() if line.startswith("{")][-1])


@pytest.mark.e2e
def test_attention_rejects_an_unreadable_file(tmp_path, capsys):
    write_image_folder(str(tmp_path / "data"), 2)
    model = _saved_model(tmp_path, tmp_path / "data")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert main(["attention", "--model", model, str(bad), "--out", str(tmp_path / "x.png")]) == 1
    assert "cannot read image file" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.e2e
def test_image_png_names_the_predicted_class_and_its_probability(tmp_path, capsys, monkeypatch):
    classes = write_image_folder(str(tmp_path / "data"), 2)
    model = _saved_model(tmp_path, tmp_path / "data")
    figures = []
    save = visualize._save
    monkeypatch.setattr(visualize, "_save", lambda fig, path, *a, **k: figures.append(fig) or save(fig, path, *a, **k))
    image = tmp_path / "data" / classes[0] / "000.png"
    out = tmp_path / "attention.png"
    assert main(["attention", "--model", model, str(image), "--out", str(out), "--latents", "3"]) == 0
    report = _report(capsys)
    loaded = keras.saving.load_model(model)  # its head is random (HEAD): the classes' probabilities differ
    probabilities = np.asarray(keras.ops.softmax(loaded(preprocess(loaded, [image]))))[0]
    assert report["predicted"] == loaded.metadata["class_names"][int(probabilities.argmax())]  # the model's answer
    assert report["probability"] == pytest.approx(float(probabilities.max()), abs=1e-4) and np.ptp(probabilities) > 1e-3
    expected = f"000.png | predicted: {report['predicted']} (p = {report['probability']:.2f})"
    assert Image.open(out).text["Title"] == expected  # in the written PNG
    (fig,) = figures
    assert fig._suptitle.get_text() == expected
    titles = [ax.get_title() for ax in fig.axes]
    assert titles.count("input (16x16 RGB)") == 2  # the input column: first and last cross-attend
    assert [ax.get_ylabel() for ax in fig.axes].count("attention weight") == 2  # a labelled colour bar per row
    latent_titles = [t for t in titles if t.startswith("latent ")]
    assert 2 <= len(latent_titles) <= 6
    assert "Brighter = more attention" in Image.open(out).text["Description"]


@pytest.mark.e2e
def test_sensor_png_is_input_plus_latent_heatmaps(tmp_path, capsys, monkeypatch):
    write_sensor_folder(str(tmp_path / "data"), 2, num_channels=3, steps=(16, 16))
    model = _saved_model(tmp_path, tmp_path / "data")
    figures = []
    monkeypatch.setattr(visualize, "_save", lambda fig, path, *a, **k: figures.append(fig) or path)
    folder = tmp_path / "data" / sorted(p.name for p in (tmp_path / "data").iterdir())[0]
    recording = sorted(folder.iterdir())[0]
    assert main(["attention", "--model", model, str(recording), "--out", str(tmp_path / "s.png")]) == 0
    report = _report(capsys)
    (fig,) = figures
    assert f"predicted: {report['predicted']} (p = " in fig._suptitle.get_text()
    left_titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert "input: 3 sensor channels x 16 time steps" in left_titles
    rows = [ax for ax in fig.axes if ax.get_title(loc="left").startswith("cross-attend")]
    assert len(rows) == report["cross_attends"]
    for ax in rows:  # a heatmap per cross-attend: latents x time, no overlapping lines
        assert len(ax.images) == 1 and ax.get_lines() == [] and ax.images[0].get_array().shape[1] == 16
    ylabels = [ax.get_ylabel() for ax in fig.axes]
    assert ylabels.count("attention weight") == len(rows) and "value (z-score per channel)" in ylabels


def test_prediction_text_single_and_multi_label():
    probabilities = np.array([0.1, 0.7, 0.6])
    names = ["a", "b", "c"]
    assert _prediction_text(SimpleNamespace(), names, probabilities) == "predicted: b (p = 0.70)"
    multi = SimpleNamespace(multi_label=True)
    assert _prediction_text(multi, names, probabilities) == "labels: b (0.70), c (0.60)"
    assert _prediction_text(multi, names, np.array([0.1, 0.3, 0.2])) == "labels: none above 0.5 (top: b, p = 0.30)"


def test_audio_time_axis_is_in_seconds_and_sensors_are_standardised():
    log_mel = _sequence_input("audio", {"sample_rate": 8000, "num_samples": 4000, "features": "log_mel"},
                              np.zeros((23, 32)), 23)
    assert log_mel["seconds_per_element"] == pytest.approx(0.5 / 23) and log_mel["feature_label"] == "mel bin"
    assert "23 frames x 32 bins" in log_mel["input_label"]
    waveform = _sequence_input("audio", {"sample_rate": 8000, "num_samples": 1024, "features": "waveform"},
                               np.ones((8, 128)), 8)
    assert waveform["inputs"].shape == (1024,)  # drawn as one line
    series = np.stack([np.arange(10.0), 100 + 50 * np.arange(10.0)], axis=1)
    sensors = _sequence_input("sensors", {}, series, 10)["inputs"]
    np.testing.assert_allclose(sensors.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(sensors.std(0), 1)
