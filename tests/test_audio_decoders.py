"""Compressed audio without tensorflow-io: soundfile decodes FLAC / OGG / MP3 / Opus through the data
pipeline, tensorflow-io is used only where its native ops load, and an environment where no decoder
works says so in one line instead of calling every file bad."""

import json
import sys
import types

import numpy as np
import pytest
import soundfile
import tensorflow as tf
from cli_flags import TINY_TRAIN_FLAGS, one_error_line

from perceiver_tf.cli import main
from perceiver_tf.data import DataOptions, audio_decoders, load_source
from perceiver_tf.data.audio import AudioProcessor
from perceiver_tf.data.audio_decoders import MissingAudioDecoderError, decode_compressed_audio
from perceiver_tf.data.model_inputs import model_input_from_file
from perceiver_tf.testing.synthetic import write_audio_folder
from perceiver_tf.workflows.predict import _predict_one

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml


def _stereo_tone(rate: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    return np.stack([tone, 0.5 * tone], axis=1)


@pytest.fixture
def fresh_probe():
    """Forget which decoders work, before and after the test (they are probed once per process)."""
    forget = audio_decoders.decoder_problem.cache_clear  # kept: a test may replace `decoder_problem`
    forget()
    yield
    forget()


@pytest.fixture
def no_decoder(monkeypatch, fresh_probe):
    """An environment without soundfile and with a tensorflow-io whose ops fail as on TensorFlow 2.17+."""
    def broken_audio_tensor(path):
        raise NotImplementedError("unable to open file: libtensorflow_io.so, from paths: ['.../libtensorflow_io.so']"
                                  "\ncaused by: ['.../libtensorflow_io.so: undefined symbol: _ZN10tensorflow...']")

    broken = types.ModuleType("tensorflow_io")
    broken.audio = types.SimpleNamespace(AudioIOTensor=broken_audio_tensor)
    monkeypatch.setitem(sys.modules, "soundfile", None)  # `import soundfile` raises ImportError
    monkeypatch.setitem(sys.modules, "tensorflow_io", broken)


@pytest.mark.parametrize("extension, rate, subtype, tolerance", [
    ("flac", 8000, None, 1e-4),  # lossless (16-bit)
    ("ogg", 8000, None, 0.05),  # Vorbis
    ("mp3", 8000, None, 0.1),
    ("opus", 48000, "OPUS", 0.05),
])
def test_compressed_formats_decode_through_the_pipeline_to_the_written_samples(tmp_path, extension, rate, subtype,
                                                                               tolerance):
    stereo = _stereo_tone(rate)
    path = str(tmp_path / f"tone.{extension}")
    soundfile.write(path, stereo, rate, **({"format": "OGG", "subtype": subtype} if subtype else {}))
    processor = AudioProcessor(sample_rate=rate, clip_seconds=0.25)
    mono = tf.function(processor.decode_file)(tf.constant(path)).numpy()  # in a graph, as in tf.data
    expected = stereo.mean(axis=1)
    assert abs(len(mono) - len(expected)) <= rate // 100, (len(mono), len(expected))
    inner = slice(rate // 50, min(len(mono), len(expected)) - rate // 50)  # lossy codecs fade the last frame
    assert np.abs(mono[inner] - expected[inner]).max() <= tolerance
    assert np.corrcoef(mono[inner], expected[inner])[0, 1] > 0.99


@pytest.mark.e2e
def test_a_flac_folder_trains_evaluates_and_predicts_without_tensorflow_io(tmp_path, monkeypatch, capsys, fresh_probe):
    monkeypatch.setitem(sys.modules, "tensorflow_io", None)  # as if not installed
    data = str(tmp_path / "flac")
    write_audio_folder(data, per_class=20, extension="flac")
    out = tmp_path / "run"
    assert main(["train", "--data", data, "--output-dir", str(out), *TINY_TRAIN_FLAGS, "--verbose", "0",
                 "--no-tensorboard", "--epochs", "3", "--sample-rate", "8000", "--clip-seconds", "0.5",
                 "--mel-bins", "32"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["modality"] == "audio" and metrics["val_accuracy"] >= 1 / 3 + 0.25, metrics
    capsys.readouterr()
    files = [f"{data}/{name}/000.flac" for name in ("high", "low", "mid")]
    assert main(["predict", "--model", str(out / "model.keras"), *files]) == 0
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum(p["top_k"][0]["class"] == name for p, name in zip(predictions, ("high", "low", "mid"))) >= 2
    assert audio_decoders.working_decoders() == ("soundfile",)


def test_soundfile_comes_first_and_tensorflow_io_reads_what_it_cannot(monkeypatch, fresh_probe):
    calls = []

    def refuses(path):
        calls.append("soundfile")
        raise RuntimeError("Format not recognised")

    def reads(path):
        calls.append("tensorflow-io")
        return np.ones((4, 2), np.float32), 16000

    monkeypatch.setattr(audio_decoders, "_DECODERS", {"soundfile": (refuses, None), "tensorflow-io": (reads, None)})
    monkeypatch.setattr(audio_decoders, "decoder_problem", lambda name: None)
    samples, rate = decode_compressed_audio(b"clip.m4a")
    assert calls == ["soundfile", "tensorflow-io"] and samples.shape == (4, 2) and rate == 16000

    monkeypatch.setattr(audio_decoders, "decoder_problem", lambda name: "not installed" if name == "tensorflow-io" else None)
    with pytest.raises(RuntimeError, match="Format not recognised"):  # the file's own problem, not the environment's
        decode_compressed_audio(b"clip.m4a")


def test_tensorflow_io_is_used_only_where_its_ops_load(tmp_path, fresh_probe):
    """With TensorFlow 2.16 its native ops load and decode FLAC as soundfile does; on later TensorFlow the
    import succeeds but the probe finds the ops broken (never counted as working on its import alone)."""
    pytest.importorskip("tensorflow_io")
    problem = audio_decoders.decoder_problem("tensorflow-io")
    if problem is not None:
        assert "native ops do not load" in problem and "tensorflow-io" not in audio_decoders.working_decoders()
        return
    stereo = np.round(_stereo_tone(8000) * 32767) / 32768
    path = str(tmp_path / "tone.flac")
    soundfile.write(path, stereo, 8000, subtype="PCM_16")
    samples, rate = audio_decoders._decode_with_tensorflow_io(path)
    assert rate == 8000
    np.testing.assert_allclose(samples, soundfile.read(path, dtype="float32", always_2d=True)[0], atol=1e-6)


@pytest.mark.e2e
def test_no_working_decoder_is_one_environment_error_not_a_bad_file_per_file(tmp_path, no_decoder, capsys):
    wavs, flacs = str(tmp_path / "wav"), tmp_path / "flac"
    write_audio_folder(wavs, per_class=3)
    assert load_source(wavs, DataOptions(sample_rate=8000, clip_seconds=0.5)).num_train > 0  # WAV needs no codec
    for name in ("high", "low", "mid"):  # the same clips as FLAC (this module's `soundfile` still writes)
        (flacs / name).mkdir(parents=True)
        for i in range(3):
            sound, rate = tf.audio.decode_wav(tf.io.read_file(f"{wavs}/{name}/{i:03d}.wav"))
            soundfile.write(str(flacs / name / f"{i:03d}.flac"), sound.numpy(), int(rate))
    with pytest.raises(MissingAudioDecoderError) as raised:
        load_source(str(flacs), DataOptions(sample_rate=8000, clip_seconds=0.5))
    message = str(raised.value)
    assert "\n" not in message and "could not be decoded" not in message
    assert "soundfile: not usable" in message and "tensorflow-io: its native ops do not load" in message
    assert message.endswith("pip install soundfile (or use WAV files)")

    capsys.readouterr()
    assert main(["train", "--data", str(flacs), "--output-dir", str(tmp_path / "run")]) == 1
    assert one_error_line(capsys) == f"error: {message}"
    processor = AudioProcessor(sample_rate=8000, clip_seconds=0.5)
    prepare = tf.function(lambda path: model_input_from_file(processor, path))
    with pytest.raises(MissingAudioDecoderError):  # `predict` stops at the first file instead of failing each
        _predict_one(None, {"modality": "audio"}, processor, prepare, str(flacs / "low" / "000.flac"), 1, None)
