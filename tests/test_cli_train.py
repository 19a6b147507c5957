"""`perceiver-tf train / predict` on bad input (every modality end to end: tests/modality_matrix.py)."""

import json

import perceiver_tf
from perceiver_tf.cli import main


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
    assert main(["train", "--data", "tfds:not_a_real_dataset_123", "--output-dir", str(tmp_path / "o")]) == 1
    assert "Unknown TFDS dataset" in capsys.readouterr().err
