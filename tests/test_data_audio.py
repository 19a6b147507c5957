"""Audio decoding (tf.audio WAV, tensorflow-io FLAC), mono mixing, resampling, crops, features."""

import os

import numpy as np
import pytest
import tensorflow as tf

from perceiver_tf.data import DataOptions, PipelineOptions, batched, load_source
from perceiver_tf.data.audio import AudioProcessor
from perceiver_tf.data.synthetic import write_audio_folder


def test_tensorflow_io_native_ops_load_and_decode_flac(tmp_path):
    """The README's TF 2.16 pin: tensorflow-io's native FLAC codec must load and round-trip."""
    tfio = pytest.importorskip("tensorflow_io")
    rate = 8000
    samples = (np.sin(2 * np.pi * 440 * np.arange(rate // 2) / rate) * 20000).astype(np.int16)
    stereo = np.stack([samples, samples // 2], axis=1)
    path = str(tmp_path / "tone.flac")
    tf.io.write_file(path, tfio.audio.encode_flac(tf.constant(stereo), rate=rate))
    processor = AudioProcessor(sample_rate=4000, clip_seconds=0.25, features="waveform", patch_size=100)
    mono = processor.decode_file(tf.constant(path)).numpy()
    # FLAC is lossless: mono mix of the int16 channels, scaled to [-1, 1], then resampled 8 kHz -> 4 kHz.
    expected = (stereo.astype(np.float32) / 32768).mean(axis=1)
    assert mono.shape == (len(samples) // 2,)
    np.testing.assert_allclose(mono[100:-100], expected[::2][100:-100], atol=0.02)


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
