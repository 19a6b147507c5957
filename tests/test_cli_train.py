"""`perceiver-tf train / evaluate / predict` end to end, in process, on generated folders of each modality."""

import csv
import json
import os

import keras
import pytest
from cli_flags import TINY_TRAIN_FLAGS

import perceiver_tf  # noqa: F401
from perceiver_tf.cli import main
from perceiver_tf.data.synthetic import write_audio_folder, write_image_folder, write_points_folder

TINY = [*TINY_TRAIN_FLAGS, "--verbose", "0"]

CASES = {
    "image": (write_image_folder, ["--epochs", "8"]),
    "audio": (write_audio_folder, ["--epochs", "3", "--sample-rate", "8000", "--clip-seconds", "0.5",
                                   "--mel-bins", "32", "--no-tensorboard"]),
    "points": (write_points_folder, ["--epochs", "6", "--num-points", "128", "--rotate", "--no-tensorboard"]),
}
CHANCE = 1 / 3


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("modality", list(CASES))
def test_train_evaluate_predict_each_modality(tmp_path, capsys, modality):
    write, flags = CASES[modality]
    data, out = str(tmp_path / "data"), str(tmp_path / "run")
    class_names = write(data, 20 if modality != "image" else 30)
    assert main(["train", "--data", data, "--output-dir", out, *TINY, *flags]) == 0

    metrics = json.load(open(os.path.join(out, "metrics.json")))
    for key in ("val_accuracy", "val_loss", "epochs", "train_seconds", "num_classes", "class_names", "modality"):
        assert key in metrics
    assert metrics["modality"] == modality and metrics["class_names"] == sorted(class_names)
    assert metrics["epochs"] == int(flags[1]) and metrics["num_classes"] == 3
    assert metrics["val_accuracy"] >= CHANCE + 0.25, metrics  # clearly above chance
    rows = list(csv.DictReader(open(os.path.join(out, "history.csv"))))
    assert [int(r["epoch"]) for r in rows] == list(range(metrics["epochs"]))
    assert os.path.exists(os.path.join(out, "best.keras")) and not os.path.exists(os.path.join(out, "backup"))
    assert os.path.isdir(os.path.join(out, "logs")) == (modality == "image")

    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    assert model.metadata["preprocessing"]["modality"] == modality
    assert model.metadata["class_names"] == metrics["class_names"]

    capsys.readouterr()
    assert main(["evaluate", "--model", os.path.join(out, "model.keras"), "--data", data]) == 0
    evaluation = _json_lines(capsys.readouterr().out)[-1]
    assert evaluation["split"] == "all" and evaluation["examples"] == 3 * (20 if modality != "image" else 30)
    assert evaluation["accuracy"] >= CHANCE + 0.25 and evaluation["loss"] > 0

    files = [os.path.join(data, name, sorted(os.listdir(os.path.join(data, name)))[0]) for name in class_names]
    assert main(["predict", "--model", os.path.join(out, "model.keras"), "--top-k", "2", *files]) == 0
    predictions = _json_lines(capsys.readouterr().out)
    assert [p["file"] for p in predictions] == files
    for prediction in predictions:
        assert len(prediction["top_k"]) == 2 and {c["class"] for c in prediction["top_k"]} <= set(class_names)
        assert prediction["top_k"][0]["probability"] >= prediction["top_k"][1]["probability"]
    correct = sum(p["top_k"][0]["class"] == name for p, name in zip(predictions, class_names))
    assert correct >= 2, predictions


def test_predict_reports_unreadable_files(tmp_path, capsys):
    model = perceiver_tf.build_classifier(
        "tiny", (8, 8, 1), 2, metadata={"class_names": ["a", "b"], "modality": "image", "preprocessing": {
            "modality": "image", "image_size": [8, 8], "channels": 1, "scale": 1 / 255, "offset": 0.0}})
    model.save(str(tmp_path / "m.keras"))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert main(["predict", "--model", str(tmp_path / "m.keras"), str(tmp_path / "bad.png")]) == 1
    (line,) = _json_lines(capsys.readouterr().out)
    assert line["file"].endswith("bad.png") and "cannot read image file" in line["error"]


def test_train_rejects_bad_sources_clearly(tmp_path):
    (tmp_path / "only" / "one").mkdir(parents=True)
    (tmp_path / "only" / "one" / "a.png").write_bytes(b"x")
    with pytest.raises(SystemExit, match="single class"):
        main(["train", "--data", str(tmp_path / "only"), "--output-dir", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="Unknown TFDS dataset"):
        main(["train", "--data", "tfds:not_a_real_dataset_123", "--output-dir", str(tmp_path / "o")])
