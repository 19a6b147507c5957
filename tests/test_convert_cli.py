"""`perceiver-tf convert` -> `predict` -> `export` (SavedModel, TFLite) -> `train --init-from` on converted checkpoints.

The converted models are compared with transformers end to end: the image models through
transformers' own image processor, the language model through its tokenizer.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_flags import one_error_line
from hf_checkpoints import (
    CASES,
    IMAGE_KINDS,
    example_inputs,
    image_size,
    reference_outputs,
    save_tiny_checkpoint,
    torch,
    transformers,
)

from perceiver_tf.cli import main
from perceiver_tf.export import model_outputs, tflite_interpreter
from perceiver_tf.testing.synthetic import write_image_folder

pytestmark = [pytest.mark.e2e, pytest.mark.tensorflow_only]  # see pyproject.toml

pytest.importorskip("safetensors")
pytest.importorskip("PIL")
QUIET = ["--no-tensorboard", "--verbose", "0"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """kind -> (converted .keras path, transformers model)."""
    root = tmp_path_factory.mktemp("converted")
    models = {}
    for kind in CASES:
        reference = save_tiny_checkpoint(kind, root / kind)
        output = root / f"{kind}.keras"
        size = ["--image-size", str(image_size(kind))] if image_size(kind) else []
        assert main(["convert", str(root / kind), "--output", str(output), *size]) == 0
        models[kind] = (str(output), reference)
    return models


def _photo(path, seed: int, shape=(37, 29)) -> bytes:
    """A random RGB PNG, not square (the centre crop matters)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)
    encoded = tf.io.encode_png(pixels).numpy()
    path.write_bytes(encoded)
    return encoded


def _transformers_probabilities(reference, photo_path, side: int) -> np.ndarray:
    """transformers' pipeline: its Perceiver image processor (PIL) -> its model -> softmax."""
    from PIL import Image
    from transformers.models.perceiver.image_processing_pil_perceiver import PerceiverImageProcessorPil

    crop = side * 256 // 224  # sides are multiples of 7: a whole-pixel crop size
    processor = PerceiverImageProcessorPil(size={"height": side, "width": side},
                                           crop_size={"height": crop, "width": crop})
    pixels = processor(Image.open(photo_path).convert("RGB"), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        return torch.softmax(reference(inputs=pixels).logits, -1).numpy()[0]


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_converted_image_model_predicts_and_exports(converted, kind, tmp_path, capsys):
    path, reference = converted[kind]
    capsys.readouterr()
    photo = tmp_path / "photo.png"
    encoded = _photo(photo, seed=1)
    assert main(["predict", "--model", path, "--top-k", "3", str(photo)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    predicted = {entry["class"]: entry["probability"] for entry in line["top_k"]}
    assert set(predicted) == {"cat", "dog", "fish"}  # the names from config.json's id2label
    model = keras.models.load_model(path)
    side = model.input_shape[1]
    expected = _transformers_probabilities(reference, photo, side)
    np.testing.assert_allclose([predicted[n] for n in ("cat", "dog", "fish")], expected, atol=0.02)

    base = tmp_path / "serving"
    assert main(["export", "--model", path, "--format", "saved_model", "--output", str(base)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["signatures"] == ["serving_default", "serving_bytes"] and summary["bytes_input"] == "image_bytes"
    served = tf.saved_model.load(summary["path"]).signatures["serving_bytes"](image_bytes=tf.constant([encoded]))
    np.testing.assert_allclose(served["probabilities"].numpy()[0],
                               [predicted[n] for n in model.metadata["class_names"]], atol=1e-5)

    pixels = np.random.default_rng(2).normal(size=(1, side, side, 3)).astype("float32")
    assert main(["export", "--model", path, "--format", "tflite", "--output", str(tmp_path / "m.tflite")]) == 0
    capsys.readouterr()
    runner = tflite_interpreter(model_path=str(tmp_path / "m.tflite")).get_signature_runner("serving_default")
    np.testing.assert_allclose(runner(inputs=pixels)["logits"], model_outputs(model, pixels)["logits"].numpy(),
                               atol=1e-4)


def test_converted_language_model_fills_masks_and_exports(converted, tmp_path, capsys):
    path, reference = converted["masked_lm"]
    capsys.readouterr()
    text = tmp_path / "sentence.txt"
    text.write_text("hé[MASK][MASK]o")
    assert main(["predict", "--model", path, str(text)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["text"] == "hé[MASK][MASK]o" and line["masks"] == 2
    tokenizer = transformers.PerceiverTokenizer()
    encoding = tokenizer("hé[MASK][MASK]o", padding="max_length", max_length=12, return_tensors="pt")
    with torch.no_grad():
        logits = reference(inputs=encoding.input_ids, attention_mask=encoding.attention_mask).logits[0].numpy()
    ids = encoding.input_ids[0].numpy().copy()
    masked = ids == tokenizer.mask_token_id
    ids[masked] = logits[masked, 6:].argmax(-1) + 6  # the most probable bytes
    assert line["filled"] == tokenizer.decode(ids[encoding.attention_mask[0].numpy() == 1], skip_special_tokens=True)

    no_mask = tmp_path / "plain.txt"
    no_mask.write_text("hello")
    assert main(["predict", "--model", path, str(no_mask)]) == 1
    assert "no [MASK] token" in json.loads(capsys.readouterr().out)["error"]

    inputs = {"inputs": encoding.input_ids.numpy().astype("int32"), "input_mask": encoding.attention_mask.numpy() == 1}
    base = tmp_path / "serving"
    assert main(["export", "--model", path, "--format", "saved_model", "--output", str(base)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["signatures"] == ["serving_default"]
    served = tf.saved_model.load(summary["path"]).signatures["serving_default"](
        inputs=tf.constant(inputs["inputs"]), input_mask=tf.constant(inputs["input_mask"]))
    np.testing.assert_allclose(served["logits"].numpy(), logits[None], atol=1e-4)
    np.testing.assert_array_equal(served["token_ids"].numpy(), logits[None].argmax(-1))
    assert main(["export", "--model", path, "--format", "tflite", "--output", str(tmp_path / "lm.tflite")]) == 0
    capsys.readouterr()
    runner = tflite_interpreter(model_path=str(tmp_path / "lm.tflite")).get_signature_runner("serving_default")
    np.testing.assert_allclose(runner(**inputs)["logits"], logits[None], atol=1e-4)


def test_converted_optical_flow_model_exports_with_transformers_flow(converted, tmp_path, capsys):
    path, reference = converted["optical_flow"]
    inputs = example_inputs("optical_flow")
    expected = reference_outputs(reference, inputs)  # (B, H, W, 2), in pixels
    capsys.readouterr()
    assert main(["export", "--model", path, "--format", "saved_model", "--output", str(tmp_path / "serving")]) == 0
    summary = json.loads(capsys.readouterr().out)
    served = tf.saved_model.load(summary["path"]).signatures["serving_default"](inputs=tf.constant(inputs["keras"]))
    np.testing.assert_allclose(served["flow"].numpy(), expected, atol=1e-5 * np.abs(expected).max())
    assert main(["export", "--model", path, "--format", "tflite", "--output", str(tmp_path / "flow.tflite")]) == 0
    capsys.readouterr()
    runner = tflite_interpreter(model_path=str(tmp_path / "flow.tflite")).get_signature_runner("serving_default")
    np.testing.assert_allclose(runner(inputs=inputs["keras"][:1])["flow"], expected[:1],
                               atol=1e-4 * np.abs(expected).max())
    photo = tmp_path / "frame.png"
    _photo(photo, seed=3)
    assert main(["predict", "--model", path, str(photo)]) == 1
    assert "is an optical-flow model" in one_error_line(capsys)


def test_init_from_a_converted_model_fine_tunes_a_new_head(converted, tmp_path, capsys):
    path, _ = converted["fourier"]
    data = tmp_path / "images"
    classes = write_image_folder(str(data), per_class=12, size=24)
    out = tmp_path / "tuned"
    assert main(["train", "--init-from", path, "--data", str(data), "--output-dir", str(out), "--epochs", "2",
                 "--batch-size", "8", "--learning-rate", "1e-3", "--rand-augment", *QUIET]) == 0
    assert "new head for 3 classes (the model's 3 classes have other names" in capsys.readouterr().out
    init, tuned = keras.models.load_model(path), keras.models.load_model(str(out / "model.keras"))
    assert tuned.metadata["class_names"] == sorted(classes) and tuned.output_shape == (None, len(classes))
    assert tuned.metadata["preprocessing"] == init.metadata["preprocessing"]  # ImageNet's, from the checkpoint
    moved = [not np.array_equal(a, b) for a, b in zip(init.backbone.get_weights(), tuned.backbone.get_weights())]
    assert any(moved)


def test_convert_errors_are_one_line(converted, tmp_path, capsys):
    path, _ = converted["fourier"]
    assert main(["convert", str(tmp_path), "--output", str(tmp_path / "x.keras")]) == 1
    assert "has no config.json" in one_error_line(capsys)
    assert main(["convert", str(tmp_path), "--output", str(tmp_path / "x.h5")]) == 2
    assert "must end in .keras" in one_error_line(capsys)
    assert main(["convert", str(tmp_path), "--output", path]) == 2
    assert "exists; pass --overwrite" in one_error_line(capsys)
    assert main(["train", "--preset", "language_perceiver", "--output-dir", str(tmp_path / "o")]) == 2
    assert "trains classifiers" in one_error_line(capsys)
    assert main(["train", "--init-from", converted["masked_lm"][0], "--output-dir", str(tmp_path / "o")]) == 1
    assert "is a masked language model" in one_error_line(capsys)
