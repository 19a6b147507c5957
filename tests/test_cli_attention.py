"""`perceiver-tf attention`: one PNG per modality from a saved model and a real file."""

import json
import os

import pytest

import perceiver_tf as pt
from perceiver_tf.cli import main
from perceiver_tf.data import DataOptions, load_source
from perceiver_tf.data.synthetic import write_audio_folder, write_image_folder, write_points_folder

WRITERS = {"image": write_image_folder, "audio": write_audio_folder, "points": write_points_folder}
OPTIONS = {"image": {}, "audio": {"sample_rate": 8000, "clip_seconds": 0.25, "num_mel_bins": 16},
           "points": {"num_points": 64}}


def _saved_model(tmp_path, modality):
    """An untrained tiny model carrying the preprocessing of a generated folder, and one of its files."""
    data = str(tmp_path / "data")
    class_names = WRITERS[modality](data, 2)
    source = load_source(data, DataOptions(modality=modality, **OPTIONS[modality]))
    model = pt.build_classifier("tiny", source.processor.input_shape, len(class_names),
                                input_kind=source.processor.input_kind, metadata=source.metadata,
                                num_latents=8, latent_dim=16, num_blocks=2, num_self_attends_per_block=1,
                                num_bands=2)
    path = str(tmp_path / "model.keras")
    model.save(path)
    folder = os.path.join(data, class_names[0])
    return path, os.path.join(folder, sorted(os.listdir(folder))[0])


@pytest.mark.parametrize("modality", list(WRITERS))
def test_attention_writes_a_png_for_each_modality(tmp_path, capsys, modality):
    model, file = _saved_model(tmp_path, modality)
    out = tmp_path / "plots" / "attention.png"
    assert main(["attention", "--model", model, "--latents", "3", file, "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["modality"] == modality and report["out"] == str(out)
    batch, heads, latents, inputs = report["attention_shape"]
    assert (batch, latents) == (1, 8) and heads >= 1 and inputs > 1
    assert report["cross_attends"] >= 1
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 2000


def test_attention_rejects_an_unreadable_file(tmp_path):
    model, _ = _saved_model(tmp_path, "image")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(SystemExit, match="cannot read image file"):
        main(["attention", "--model", model, str(bad), "--out", str(tmp_path / "x.png")])
    assert not (tmp_path / "x.png").exists()
