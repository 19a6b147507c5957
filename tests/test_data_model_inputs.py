"""`preprocess` turns files or raw arrays into exactly the evaluation pipeline's inputs, and
`metadata["inputs"]` states what those inputs hold."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

import perceiver_tf
from perceiver_tf.data import DataOptions, PipelineOptions, batched, load_source, preprocess
from perceiver_tf.testing.synthetic import write_image_folder, write_points_folder

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml


def _model(source):
    return perceiver_tf.build_classifier("tiny", source.processor.input_shape, len(source.class_names),
                                         input_kind=source.processor.input_kind, num_latents=4, latent_dim=8,
                                         num_bands=2, metadata=source.metadata)


def _validation_inputs(source):
    options = PipelineOptions(batch_size=64, seed=0)
    return np.concatenate([x.numpy() for x, _ in batched(source.val, source.processor, False, 3, options)])


def test_image_files_and_uint8_arrays_give_the_pipelines_inputs(tmp_path):
    write_image_folder(str(tmp_path), per_class=4, size=20)
    source = load_source(str(tmp_path), DataOptions(image_size=(10, 10), seed=0))
    model = _model(source)
    val_files = [path for path in sorted(glob.glob(str(tmp_path / "*" / "*.png")))]
    from_files = preprocess(model, val_files)
    assert from_files.shape == (len(val_files), 10, 10, 3) and from_files.dtype == np.float32
    pixels = np.stack([tf.io.decode_png(tf.io.read_file(path)).numpy() for path in val_files])  # uint8 (B, 20, 20, 3)
    np.testing.assert_allclose(preprocess(model, pixels), from_files, atol=1e-6)
    pipeline = _validation_inputs(source)  # the evaluation pipeline's batches are among the files' inputs
    assert all(np.abs(from_files - row).max(axis=(1, 2, 3)).min() < 1e-6 for row in pipeline)

    inputs = model.metadata["inputs"]["inputs"]
    assert inputs == {"dtype": "float32", "shape": [10, 10, 3], "holds": "pixels in [0, 1] (8-bit value / 255)"}
    assert 0.0 <= from_files.min() and from_files.max() <= 1.0
    with pytest.raises(ValueError, match="Float images are ambiguous"):
        preprocess(model, pixels.astype(np.float32))


def test_point_arrays_match_their_files_and_unreadable_files_are_named(tmp_path):
    write_points_folder(str(tmp_path), per_class=4)
    source = load_source(str(tmp_path), DataOptions(num_points=32, seed=0))
    model = _model(source)
    path = sorted(glob.glob(str(tmp_path / "*" / "*.npy")))[0]
    cloud = np.load(path)[None]
    batch = preprocess(model, cloud)
    np.testing.assert_allclose(batch, preprocess(model, [path]), atol=1e-6)
    assert batch.shape == (1, 32, 3) and np.linalg.norm(batch, axis=-1).max() <= 1.0 + 1e-6
    assert "unit sphere" in model.metadata["inputs"]["inputs"]["holds"]
    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"not numpy")
    with pytest.raises(ValueError, match=f"^{os.fspath(broken)}: "):
        preprocess(model, [broken])
    with pytest.raises(ValueError, match="has no preprocessor"):
        preprocess(perceiver_tf.build_classifier("tiny", (4, 4, 1), 2, num_latents=4, latent_dim=8, num_bands=2),
                   [path])
