"""Audio decoding (in-graph WAV of every PCM / float width; compressed formats: test_audio_decoders.py), mono
mixing, resampling, crops, features."""

import os
import struct
import wave

import numpy as np
import pytest
import tensorflow as tf

from perceiver_tf.data import (
    DataOptions,
    PipelineOptions,
    batched,
    error_reason,
    load_source,
    preprocessing,
)
from perceiver_tf.data.audio import AudioProcessor
from perceiver_tf.data.wav import decode_wav
from perceiver_tf.testing.synthetic import write_audio_folder

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml


def _wav(code, channels, rate, bits, data, extensible=False, extra=b""):
    """A RIFF/WAVE file: a "fmt " chunk (plain, or WAVE_FORMAT_EXTENSIBLE with `code` as the sub-format),
    the `extra` chunks, then the "data" chunk."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else code, channels, rate, rate * block, block, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", code) + bytes(14)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _pcm24_with_wave_module(path, ints):
    """Write int `(T, C)` samples in [-2^23, 2^23) as 24-bit PCM with Python's own `wave` writer."""
    raw = (ints.astype("<i4").view(np.uint8).reshape(*ints.shape, 4)[..., :3]).tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(ints.shape[1])
        out.setsampwidth(3)
        out.setframerate(8000)
        out.writeframes(raw)


_SAMPLES = np.random.default_rng(0).uniform(-1, 1, (40, 2))
_LIST_CHUNK = b"LIST" + struct.pack("<I", 5) + b"INFOx\0"  # odd size: padded to an even length


@pytest.mark.parametrize("name, wav_bytes, expected", [
    ("float32", _wav(3, 2, 8000, 32, _SAMPLES.astype("<f4").tobytes()), _SAMPLES.astype(np.float32)),
    ("float64", _wav(3, 2, 8000, 64, _SAMPLES.astype("<f8").tobytes()), _SAMPLES.astype(np.float32)),
    ("pcm8", _wav(1, 2, 8000, 8, np.uint8(np.round(_SAMPLES * 127) + 128).tobytes()), np.round(_SAMPLES * 127) / 128),
    ("pcm16", _wav(1, 2, 8000, 16, np.int16(_SAMPLES * 32767).tobytes()), np.int16(_SAMPLES * 32767) / 32768),
    ("pcm32", _wav(1, 2, 8000, 32, np.int32(_SAMPLES * (2**31 - 1)).tobytes()),
     (np.int32(_SAMPLES * (2**31 - 1)) / 2**31).astype(np.float32)),
    ("extensible-pcm16-after-a-list-chunk", _wav(1, 2, 8000, 16, np.int16(_SAMPLES * 32767).tobytes(), True,
                                                 _LIST_CHUNK), np.int16(_SAMPLES * 32767) / 32768),
])
def test_wav_encodings_decode_to_the_written_samples(name, wav_bytes, expected):
    samples, rate = tf.function(decode_wav)(tf.constant(wav_bytes))  # in a graph, as when serving
    assert int(rate) == 8000 and samples.shape == expected.shape, name
    np.testing.assert_allclose(samples.numpy(), expected, rtol=0, atol=1e-7)


def test_24_bit_wav_written_by_the_wave_module_matches_tf_and_the_processor(tmp_path):
    ints = np.int32(np.round(_SAMPLES * (2**23 - 1)))
    _pcm24_with_wave_module(tmp_path / "deep.wav", ints)
    samples, rate = decode_wav(tf.io.read_file(str(tmp_path / "deep.wav")))
    assert int(rate) == 8000
    np.testing.assert_array_equal(samples.numpy(), ints / 2**23)
    mono = AudioProcessor(sample_rate=8000).decode_file(tf.constant(str(tmp_path / "deep.wav")))
    np.testing.assert_allclose(mono.numpy(), (ints / 2**23).mean(axis=1), atol=1e-7)


@pytest.mark.parametrize("wav_bytes, reason", [
    (_wav(1, 1, 8000, 12, bytes(4)), "12-bit PCM WAV is not supported; convert to 16-bit PCM"),
    (_wav(3, 1, 8000, 16, bytes(4)), "16-bit float WAV is not supported; convert to 16-bit PCM"),
    (_wav(6, 1, 8000, 8, bytes(4)), "WAV format code 6 (compressed: ADPCM, A-law, mu-law, ...) is not supported; "
                                    "convert to 16-bit PCM"),
    (b"ID3 an mp3 renamed to .wav", "not a WAV file (no RIFF/WAVE header)"),
    (b"RIFF\x04\x00\x00\x00WAVE", "WAV file without a complete fmt chunk and a data chunk"),
], ids=["pcm12", "float16", "a-law", "not-riff", "no-chunks"])
def test_unsupported_wavs_name_what_they_are(wav_bytes, reason):
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        tf.function(AudioProcessor().decode_bytes)(tf.constant(wav_bytes))
    assert error_reason(raised.value) == reason


def test_a_folder_of_float_wavs_loads(tmp_path):
    for name, frequency in (("low", 300.0), ("high", 2000.0)):
        os.makedirs(tmp_path / name)
        for i in range(3):
            tone = np.sin(2 * np.pi * frequency * np.arange(4000) / 8000)[:, None] * (0.2 + 0.2 * i)
            (tmp_path / name / f"{i}.wav").write_bytes(_wav(3, 1, 8000, 32, tone.astype("<f4").tobytes()))
    source = load_source(str(tmp_path), DataOptions(sample_rate=8000, clip_seconds=0.5))
    assert source.num_train + source.num_val == 6 and not source.skipped
    waves = [w.numpy() for w, _ in source.val]
    assert all(w.shape == (4000,) and 0.19 < np.abs(w).max() < 0.61 for w in waves)


def test_wav_resample_crop_and_features(tmp_path):
    rate, frequency = 11025, 500.0
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    path = str(tmp_path / "tone.wav")
    tf.io.write_file(path, tf.audio.encode_wav(np.stack([tone, tone], 1), rate))
    processor = AudioProcessor(sample_rate=8000, clip_seconds=0.5, features="waveform", patch_size=100)
    wave = processor.decode_file(tf.constant(path)).numpy()
    assert wave.shape == (8000,)
    np.testing.assert_allclose(wave[200:-200], 0.5 * np.sin(2 * np.pi * frequency * np.arange(8000) / 8000)[200:-200],
                               atol=0.02)
    centre = processor.prepare(tf.constant(wave), False, tf.constant([0, 0])).numpy()
    assert centre.shape == (40, 100)
    np.testing.assert_array_equal(centre.reshape(-1), wave[2000:6000])
    crops = {tuple(processor.prepare(tf.constant(wave), True, tf.constant([s, 0])).numpy().reshape(-1)[:3])
             for s in range(4)}
    assert len(crops) > 1  # random crops differ by seed
    mel = AudioProcessor(sample_rate=8000, clip_seconds=0.5, num_mel_bins=32)
    assert mel.input_shape == (1 + (4000 - 400) // 160, 32)
    assert mel.prepare(tf.constant(wave), False, tf.constant([0, 0])).shape == mel.input_shape


def test_audio_folder_pipeline(tmp_path):
    write_audio_folder(str(tmp_path), per_class=3)
    source = load_source(str(tmp_path), DataOptions(sample_rate=8000, clip_seconds=0.5, num_mel_bins=32))
    assert source.modality == "audio" and source.class_names == ["high", "low", "mid"]
    assert source.metadata["preprocessing"]["num_samples"] == 4000
    x, y = next(iter(batched(source.train, source.processor, True, 3, PipelineOptions(4))))
    assert x.shape == (4, *source.processor.input_shape) and np.isfinite(x.numpy()).all()
    assert os.path.isdir(tmp_path / "low")


def _tone(frequency: float, rate: int = 16000, seconds: float = 0.5) -> tf.Tensor:
    t = np.arange(int(rate * seconds)) / rate
    return tf.constant((0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32))


def _peak_mel_bin(features: tf.Tensor) -> int:
    return int(tf.argmax(tf.reduce_mean(features, axis=0)))


@pytest.mark.parametrize("scale", [0.9, 1.1])
def test_frequency_warp_moves_a_tone_as_that_tone_scaled(scale):
    config = AudioProcessor(clip_seconds=0.5).config
    warped = preprocessing.waveform_to_model_input(_tone(1000.0), config, frequency_scale=tf.constant(scale))
    expected = preprocessing.waveform_to_model_input(_tone(1000.0 * scale), config)
    assert abs(_peak_mel_bin(warped) - _peak_mel_bin(expected)) <= 1
    assert _peak_mel_bin(warped) != _peak_mel_bin(preprocessing.waveform_to_model_input(_tone(1000.0), config))
    unwarped = preprocessing.waveform_to_model_input(_tone(1000.0), config, frequency_scale=tf.constant(1.0))
    np.testing.assert_allclose(unwarped, preprocessing.waveform_to_model_input(_tone(1000.0), config), atol=1e-5)


def test_normalised_log_mel_is_standardised_per_clip_and_ignores_loudness():
    processor = AudioProcessor(clip_seconds=0.5, normalize=True)
    noise = tf.constant(np.random.default_rng(0).normal(0, 0.1, 8000).astype(np.float32)) + _tone(440.0)
    loud, quiet = (processor.prepare(noise * gain, False, tf.constant([0, 0])) for gain in (1.0, 0.2))
    assert float(tf.reduce_mean(loud)) == pytest.approx(0.0, abs=1e-4)
    assert float(tf.math.reduce_std(loud)) == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(loud, quiet, atol=1e-3)
    restored = AudioProcessor.from_config(processor.config)
    np.testing.assert_allclose(restored.prepare(noise, False, tf.constant([0, 0])), loud)


def test_time_shift_and_gain_augment_training_clips_only():
    processor = AudioProcessor(sample_rate=1024, clip_seconds=1.0, features="waveform", patch_size=64,
                               time_shift=0.25, gain_db=6.0)
    click = np.zeros(1024, np.float32)
    click[512] = 0.5
    click = tf.constant(click)
    evaluated = tf.reshape(processor.prepare(click, False, tf.constant([0, 0])), [-1]).numpy()
    assert np.argmax(evaluated) == 512 and evaluated.max() == 0.5
    positions, gains = set(), set()
    for seed in range(20):
        trained = tf.reshape(processor.prepare(click, True, tf.constant([seed, 1])), [-1]).numpy()
        positions.add(int(np.argmax(trained)))
        gains.add(round(float(trained.max() / 0.5), 4))
    assert len(positions) > 10 and all(abs(position - 512) <= 256 for position in positions)
    assert len(gains) > 10 and all(10 ** (-6 / 20) - 1e-4 <= gain <= 10 ** (6 / 20) + 1e-4 for gain in gains)


@pytest.mark.parametrize("settings, message", [
    (dict(features="waveform", normalize=True), "log-mel"),
    (dict(features="waveform", frequency_warp=0.1), "log-mel"),
    (dict(time_shift=1.0), "time_shift"),
    (dict(gain_db=-1.0), "gain_db"),
])
def test_bad_audio_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        AudioProcessor(**settings)
