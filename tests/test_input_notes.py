"""`predict` says what preprocessing did to an input and flags inputs unlike the training data
(`perceiver_tf.workflows.input_notes`), in its JSON and on one stderr line."""

import json

import numpy as np
import pytest
from cli_flags import TINY_TRAIN_FLAGS
from PIL import Image

from perceiver_tf.cli import main
from perceiver_tf.workflows.input_notes import conversions, input_statistics, raw_properties, unusual

IMAGE = {"modality": "image", "image_size": [8, 8], "channels": 1}
AUDIO = {"modality": "audio", "sample_rate": 16000, "num_samples": 16000}


@pytest.mark.parametrize("config, raw, expected", [
    (IMAGE, {"size": (64, 64), "channels": 3}, ["colour -> grey", "resized 64x64 -> 8x8"]),
    (IMAGE, {"size": (8, 8), "channels": 1}, []),
    ({**IMAGE, "channels": 3, "crop_fraction": 0.875}, {"size": (8, 8), "channels": 1},
     ["grey -> colour", "centre crop 88%"]),
    (AUDIO, {"rate": 44100, "channels": 2, "seconds": 3.0}, ["2 channels -> mono", "resampled 44100 -> 16000 Hz",
                                                             "the middle 1 s of 3 s"]),
    (AUDIO, {"rate": 16000, "channels": 1, "seconds": 0.5}, ["0.5 s padded to 1 s"]),
    (AUDIO, {"rate": 16000, "channels": 1, "seconds": 1.0}, []),
    ({"modality": "sensors", "num_steps": 100, "channels": 6}, {"steps": 130}, ["the middle 100 of 130 steps"]),
    ({"modality": "sensors", "num_steps": 100, "channels": 6}, {"steps": 90}, ["90 steps padded to 100"]),
    ({"modality": "points", "num_points": 1024}, {"points": 5000}, ["5000 points -> 1024"]),
])
def test_conversions_name_what_changed(config, raw, expected):
    assert conversions(config, raw) == expected


def test_raw_arrays_are_described_as_the_preprocessing_reads_them():
    assert raw_properties("image", np.zeros((20, 30, 4), np.uint8)) == {"size": (20, 30), "channels": 3}
    assert raw_properties("image", np.zeros((20, 30), np.uint8)) == {"size": (20, 30), "channels": 1}
    assert raw_properties("audio", np.zeros((8000, 2)), 8000) == {"rate": 8000, "channels": 2, "seconds": 1.0}
    assert raw_properties("sensors", np.zeros((50, 3))) == {"steps": 50}


def test_unusual_inputs_lie_well_outside_the_training_range():
    rng = np.random.default_rng(0)
    training = [rng.normal(0.3, 0.4, (8, 8)) for _ in range(200)]
    statistics = input_statistics(training)
    assert statistics["mean"][0] < 0.3 < statistics["mean"][1] and statistics["std"][0] < 0.4 < statistics["std"][1]
    assert unusual(statistics, rng.normal(0.3, 0.4, (8, 8))) == []  # another example like them
    flat = unusual(statistics, np.full((8, 8), 0.5))
    assert len(flat) == 1 and flat[0].startswith("input standard deviation 0 is outside the training examples'")
    assert len(unusual(statistics, {"inputs": rng.normal(5.0, 0.4, (8, 8)), "input_mask": np.ones(8)})) == 1
    assert unusual(None, np.zeros(3)) == [] and input_statistics([{"audio": 1, "video": 2}]) is None


@pytest.mark.e2e
@pytest.mark.tensorflow_only  # the CLI's files are the same under JAX
def test_predict_notes_a_photo_given_to_the_digits_model(tmp_path, capsys, monkeypatch):
    """A 64x64 colour photo: converted to grey and shrunk, and flagged; a validation digit: neither."""
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--output-dir", "run", *TINY_TRAIN_FLAGS, "--epochs", "1", "--verbose", "0"]) == 0
    rows, columns = np.mgrid[0:64, 0:64]
    photo = np.stack([rows * 2, columns * 2, np.full((64, 64), 128)], axis=-1)  # a smooth colour gradient
    noise = np.random.default_rng(0).integers(0, 30, photo.shape)
    Image.fromarray(np.clip(photo + noise, 0, 255).astype(np.uint8)).save(tmp_path / "photo.png")
    digit = next((tmp_path / "run" / "examples").glob("*.png"))
    capsys.readouterr()
    assert main(["predict", "--model", "run/model.keras", str(digit), "photo.png"]) == 0
    printed = capsys.readouterr()
    first, second = (json.loads(line) for line in printed.out.splitlines())
    assert "conversions" not in first and "unusual" not in first, first
    assert second["conversions"] == ["colour -> grey", "resized 64x64 -> 8x8"]
    assert second["unusual"] and all("outside the training examples'" in why for why in second["unusual"])
    note = [line for line in printed.err.splitlines() if line.startswith("note: ")]
    assert note == ["note: photo.png: colour -> grey, resized 64x64 -> 8x8; unlike the training data: "
                    + "; ".join(second["unusual"])]


def test_a_truncated_wav_is_named_in_training_and_in_predict(tmp_path):
    import tensorflow as tf

    from perceiver_tf.data import DataOptions, load_source
    from perceiver_tf.data.errors import DataWarning
    from perceiver_tf.data.wav import truncation

    for name in ("low", "high"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for n in range(2):
            wav = tf.audio.encode_wav(tf.zeros([1600, 1]), 16000).numpy()
            (tmp_path / "data" / name / f"{n}.wav").write_bytes(wav)
    whole = tmp_path / "data" / "low" / "0.wav"
    cut = tmp_path / "data" / "low" / "1.wav"
    cut.write_bytes(cut.read_bytes()[:-1000])
    assert truncation(whole) is None
    assert truncation(cut) == "holds 2,200 of the 3,200 data bytes its header declares"
    with pytest.warns(DataWarning, match=r"^1 WAV file\(s\) end before their data does .*: .*low/1\.wav holds 2,200"):
        load_source(str(tmp_path / "data"), DataOptions(clip_seconds=0.1))
    raw = raw_properties("audio", str(cut))
    assert raw["seconds"] == pytest.approx(0.06875) and conversions(AUDIO, raw)[0] == (
        "read up to the end of a truncated file (it holds 2,200 of the 3,200 data bytes its header declares)")
