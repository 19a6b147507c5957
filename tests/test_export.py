"""Deployment: TF Serving SavedModel (fresh process, saved_model_cli, requests) and TFLite.

One tiny digits classifier is trained once per module (a trained head is needed: the default
zero-initialised head makes every untrained logit 0, so agreement checks would be vacuous).
"""

import base64
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_flags import one_error_line
from tensorflow.core.protobuf import saved_model_pb2

from perceiver_tf import build_classifier
from perceiver_tf.cli import main
from perceiver_tf.data import DIGITS_CLASS_NAMES, load_digits_split
from perceiver_tf.data.images import ImageProcessor
from perceiver_tf.data.preprocessing import (
    fixed_length,
    image_to_model_input,
    resample,
    to_mono,
    waveform_to_model_input,
)
from perceiver_tf.export import (
    SERVING_BYTES,
    SERVING_DEFAULT,
    convert_to_tflite,
    export_saved_model,
    next_version,
    non_builtin_operators,
    predict_request,
    rest_body,
    rest_url,
    tflite_interpreter,
    write_saved_model,
)
from perceiver_tf.export.saved_model import bytes_signature
from perceiver_tf.native_log import native_stderr_captured
from perceiver_tf.testing import run_signatures_in_fresh_process

pytestmark = pytest.mark.tensorflow_only  # see pyproject.toml

TINY = dict(num_latents=16, latent_dim=32, num_blocks=1, num_cross_attends=1, num_self_attends_per_block=1)
DIGITS_PREPROCESSING = {"modality": "image", "image_size": [8, 8], "channels": 1, "scale": 1 / 255, "offset": 0}
EPOCHS = 10
AUDIO_PREPROCESSING = {"modality": "audio", "sample_rate": 8000, "num_samples": 512, "features": "waveform",
                       "patch_size": 32}


@pytest.fixture(scope="module")
def digits():
    (x_train, y_train), (x_val, y_val) = load_digits_split()
    # Pixels on the 8-bit grid, so PNG-encoded examples decode to exactly the same inputs.
    return (np.round(x_train * 255) / 255, y_train), (np.round(x_val * 255) / 255, y_val)


@pytest.fixture(scope="module")
def trained(digits):
    """A tiny digits classifier trained for a few epochs (~84% validation accuracy)."""
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_val, y_val) = digits
    model = build_classifier(
        "tiny", (8, 8, 1), 10, input_kind="image",
        metadata={"class_names": DIGITS_CLASS_NAMES, "modality": "image", "preprocessing": DIGITS_PREPROCESSING},
        **TINY,
    )
    schedule = keras.optimizers.schedules.CosineDecay(1e-2, EPOCHS * int(np.ceil(len(x_train) / 32)))
    model.compile(keras.optimizers.Adam(schedule), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, batch_size=32, epochs=EPOCHS, verbose=0)
    logits = model.predict(x_val, batch_size=len(x_val), verbose=0)
    assert (logits.argmax(-1) == y_val).mean() >= 0.75  # trained (chance: 0.1)
    return model, logits


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    model, _ = trained
    return export_saved_model(model, tmp_path_factory.mktemp("serving") / "digits")


@pytest.fixture(scope="module")
def loaded(exported):
    """The exported SavedModel, loaded once in this process."""
    return tf.saved_model.load(str(exported.path))


def _png(images: np.ndarray) -> list[bytes]:
    return [tf.io.encode_png(np.round(image * 255).astype(np.uint8)).numpy() for image in images]


def _softmax(logits):
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def _check_outputs(outputs, logits, atol=1e-5):
    np.testing.assert_allclose(outputs["logits"], logits, atol=atol, rtol=0)
    np.testing.assert_allclose(outputs["probabilities"], _softmax(logits), atol=atol, rtol=0)
    np.testing.assert_array_equal(outputs["class_ids"], logits.argmax(-1))


# --- SavedModel / TF Serving -------------------------------------------------------------------


def test_serving_layout_versions_and_metadata(exported, trained, tmp_path):
    model, _ = trained
    assert exported.version == 1 and exported.path.name == "1"
    assert (exported.path / "saved_model.pb").is_file() and (exported.path / "variables").is_dir()
    assert exported.signatures == (SERVING_DEFAULT, SERVING_BYTES) and exported.bytes_input == "image_bytes"
    assert json.loads((exported.path / "assets.extra" / "metadata.json").read_text()) == model.metadata
    graph = saved_model_pb2.SavedModel.FromString((exported.path / "saved_model.pb").read_bytes()).meta_graphs[0]
    ops = {node.op for node in graph.graph_def.node}
    ops |= {node.op for function in graph.graph_def.library.function for node in function.node_def}
    assert {"DecodeImage", "ResizeBilinear"} & ops and not {"PyFunc", "EagerPyFunc", "PyFuncStateless"} & ops
    assert next_version(exported.path.parent) == 2
    for name in ("1", "3", "notes"):
        (tmp_path / name).mkdir()
    assert next_version(tmp_path) == 4 and next_version(tmp_path / "absent") == 1
    with pytest.raises(ValueError, match="Version 1 already exists"):
        export_saved_model(model, exported.path.parent, version=1)


@pytest.mark.e2e
def test_fresh_process_float_and_bytes_signatures_match_keras(exported, trained, digits):
    """No perceiver_tf and no custom objects in the child: the outputs still match Keras to 1e-5."""
    _, logits = trained
    _, (x_val, _) = digits
    outputs = run_signatures_in_fresh_process(
        exported.path, {SERVING_DEFAULT: {"inputs": x_val[:64]}, SERVING_BYTES: {"image_bytes": _png(x_val[:9])}}
    )
    _check_outputs(outputs[SERVING_DEFAULT], logits[:64])
    _check_outputs(outputs[SERVING_BYTES], logits[:9])


@pytest.mark.e2e
def test_saved_model_cli_lists_signatures(exported):
    cli = Path(sys.executable).with_name("saved_model_cli")
    shown = subprocess.run([str(cli), "show", "--all", "--dir", str(exported.path)], capture_output=True,
                           text=True, check=True, timeout=120).stdout
    for expected in ("signature_def['serving_default']", "signature_def['serving_bytes']",
                     "inputs['inputs']", "shape: (-1, 8, 8, 1)", "inputs['image_bytes']", "dtype: DT_STRING",
                     "outputs['probabilities']", "outputs['logits']", "outputs['class_ids']", "dtype: DT_INT64"):
        assert expected in shown, expected


def test_variable_batch_and_image_decoding(loaded, trained, digits):
    model, logits = trained
    _, (x_val, _) = digits
    for batch in (1, 5):
        _check_outputs(loaded.signatures[SERVING_DEFAULT](inputs=tf.constant(x_val[:batch], tf.float32)), logits[:batch])
    # A 16x16 RGB JPEG and PNG: decoded to one channel and resized to 8x8 inside the graph.
    rgb = np.repeat(np.repeat(np.repeat(x_val[:2], 2, axis=1), 2, axis=2), 3, axis=-1)
    files = [tf.io.encode_jpeg(np.round(rgb[0] * 255).astype(np.uint8)).numpy(),
             tf.io.encode_png(np.round(rgb[1] * 255).astype(np.uint8)).numpy()]
    outputs = loaded.signatures[SERVING_BYTES](image_bytes=tf.constant(files))
    reference = np.stack([image_to_model_input(tf.io.decode_image(f, channels=1), DIGITS_PREPROCESSING) for f in files])
    _check_outputs({k: v.numpy() for k, v in outputs.items()}, model.predict(reference, verbose=0))


def test_audio_wav_signature_resamples_and_crops(tmp_path):
    """WAV bytes of any rate / length / channel count -> the model's fixed (16, 32) waveform patches."""
    model = build_classifier(
        "tiny", (16, 32), 4, input_kind="audio", head_kernel_initializer="glorot_uniform",
        metadata={"modality": "audio", "preprocessing": AUDIO_PREPROCESSING}, **TINY,
    )
    export = write_saved_model(model, tmp_path / "audio")
    assert export.bytes_input == "audio_bytes"
    rng = np.random.default_rng(0)
    exact = rng.uniform(-0.5, 0.5, (512, 1)).astype(np.float32)  # mono, 8 kHz, 512 samples: no resampling
    stereo = rng.uniform(-0.5, 0.5, (1500, 2)).astype(np.float32)  # 16 kHz stereo, 1500 samples
    wavs = [tf.audio.encode_wav(exact, 8000).numpy(), tf.audio.encode_wav(stereo, 16000).numpy()]
    outputs = tf.saved_model.load(str(export.path)).signatures[SERVING_BYTES](audio_bytes=tf.constant(wavs))
    decoded = [tf.audio.decode_wav(wav)[0].numpy() for wav in wavs]
    first = decoded[0][:, 0].reshape(16, 32)  # independent of the preprocessing code
    second = waveform_to_model_input(fixed_length(resample(to_mono(decoded[1]), 16000, 8000), 512), AUDIO_PREPROCESSING)
    _check_outputs({k: v.numpy() for k, v in outputs.items()}, model.predict(np.stack([first, second]), verbose=0))


def test_bytes_signature_applies_the_training_pixel_permutation():
    """A model trained on permuted pixels (`--permute-pixels`) is served the same permutation."""
    processor = ImageProcessor((6, 5), channels=1, pixel_permutation_seed=3)
    model = build_classifier("tiny", (6, 5, 1), 3, head_kernel_initializer="glorot_uniform",
                             metadata={"modality": "image", "preprocessing": processor.config}, **TINY)
    pixels = np.random.default_rng(0).integers(0, 256, (6, 5, 1), dtype=np.uint8)
    _, serve = bytes_signature(model)
    served = serve(tf.constant([tf.io.encode_png(pixels).numpy()]))["logits"].numpy()
    trained_on = processor.prepare(processor.from_decoded(tf.constant(pixels)), False, tf.zeros([2], tf.int32))
    np.testing.assert_allclose(served, model.predict(np.asarray(trained_on)[None], verbose=0), atol=1e-5)
    unpermuted = model.predict((pixels / 255.0)[None].astype(np.float32), verbose=0)
    assert np.abs(served - unpermuted).max() > 1e-4  # the permutation changes what the model sees


def test_grpc_predict_request_drives_the_signatures(loaded, trained, digits):
    """A tensorflow-serving-api PredictRequest, decoded back the way TF Serving does, then run."""
    pytest.importorskip("tensorflow_serving", reason="pip install --no-deps -r requirements-serving.txt")
    _, logits = trained
    _, (x_val, _) = digits
    request = predict_request({"inputs": x_val[:3]}, "digits", version=1)
    assert request.model_spec.name == "digits" and request.model_spec.version.value == 1
    assert request.model_spec.signature_name == SERVING_DEFAULT
    received = tf.make_ndarray(request.inputs["inputs"])
    assert received.dtype == np.float32
    _check_outputs({k: v.numpy() for k, v in loaded.signatures[SERVING_DEFAULT](inputs=received).items()}, logits[:3])
    request = predict_request({"image_bytes": _png(x_val[3:5])}, "digits", SERVING_BYTES)
    served = loaded.signatures[SERVING_BYTES](image_bytes=tf.make_ndarray(request.inputs["image_bytes"]))
    _check_outputs({k: v.numpy() for k, v in served.items()}, logits[3:5])


def test_rest_body_drives_the_signatures(loaded, trained, digits):
    """The REST JSON body, parsed back the way TF Serving does (columnar inputs, b64 strings)."""
    _, logits = trained
    _, (x_val, _) = digits
    body = json.loads(json.dumps(rest_body({"image_bytes": _png(x_val[5:7])}, SERVING_BYTES)))
    assert body["signature_name"] == SERVING_BYTES
    files = [base64.b64decode(item["b64"]) for item in body["inputs"]["image_bytes"]]
    served = loaded.signatures[SERVING_BYTES](image_bytes=tf.constant(files))
    _check_outputs({k: v.numpy() for k, v in served.items()}, logits[5:7])
    body = json.loads(json.dumps(rest_body({"inputs": x_val[7:9]})))
    served = loaded.signatures[SERVING_DEFAULT](inputs=tf.constant(body["inputs"]["inputs"], tf.float32))
    _check_outputs({k: v.numpy() for k, v in served.items()}, logits[7:9])
    assert rest_url("digits", version=3) == "http://localhost:8501/v1/models/digits/versions/3:predict"


# --- TFLite ------------------------------------------------------------------------------------


def _tflite_logits(content: bytes, x: np.ndarray, deprecated_tf_lite: bool = False) -> np.ndarray:
    """The logits of `x` under LiteRT (`tflite_interpreter`), or under TensorFlow's own deprecated
    `tf.lite.Interpreter` (default XNNPACK delegate), which many users still run."""
    interpreter = tflite_interpreter(model_content=content, runtime="tf.lite" if deprecated_tf_lite else "auto")
    return interpreter.get_signature_runner(SERVING_DEFAULT)(inputs=x.astype(np.float32))["logits"]


def _operator_input_types(content: bytes, operator: str) -> set[str]:
    """The dtypes of the tensors that feed every `operator` node of a `.tflite` file, e.g. {"float32"}."""
    interpreter = tflite_interpreter(model_content=content)
    tensors = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    return {tensors[i] for op in interpreter._get_ops_details() if op["op_name"] == operator
            for i in op["inputs"] if i >= 0}


def test_tflite_fp32_is_builtin_only_and_matches_keras(trained, digits, capfd):
    model, logits = trained
    _, (x_val, _) = digits
    capfd.readouterr()
    content = convert_to_tflite(model, "none")
    assert capfd.readouterr().err == ""  # the converter's native log is kept back (test_native_log_...)
    assert convert_to_tflite(model, "none", verbose=True) == content
    assert non_builtin_operators(content) == []
    with contextlib.redirect_stdout(io.StringIO()) as report:
        tf.lite.experimental.Analyzer.analyze(model_content=content)
    assert "Flex" not in report.getvalue() and "FULLY_CONNECTED" in report.getvalue()
    tflite_logits = np.concatenate([_tflite_logits(content, x_val[:1]), _tflite_logits(content, x_val[1:])])
    assert np.abs(tflite_logits - logits).max() <= 1e-4


def test_native_log_is_kept_back_and_shown_on_request_or_failure(capfd):
    """What C++ code writes to file descriptor 2 (the TFLite converter's log on TensorFlow 2.16; 2.21
    prints nothing below TF_CPP_MIN_LOG_LEVEL's threshold) is held back unless asked for or failing."""
    capfd.readouterr()
    with native_stderr_captured():
        os.write(2, b"native line 1\n")
    assert capfd.readouterr().err == ""
    with native_stderr_captured(show=True):
        os.write(2, b"native line 2\n")
    assert capfd.readouterr().err == "native line 2\n"
    with pytest.raises(RuntimeError, match="conversion failed"), native_stderr_captured():
        os.write(2, b"native line 3\n")
        raise RuntimeError("conversion failed")
    assert capfd.readouterr().err == "native line 3\n"


@pytest.mark.parametrize(
    "quantize", [pytest.param("float16", marks=pytest.mark.slow), pytest.param("dynamic", marks=pytest.mark.slow), "int8"]
)
def test_tflite_quantized_agrees_on_top1(trained, digits, quantize):
    """Under LiteRT and under TensorFlow's own interpreter (whose XNNPACK int8 batch matmul made 0.89 of
    this model's answers agree on TensorFlow 2.21 before int8 exports kept the attention float)."""
    model, logits = trained
    (x_train, _), (x_val, _) = digits
    content = convert_to_tflite(model, quantize, representative_data=x_train)
    assert non_builtin_operators(content) == []
    for deprecated_tf_lite in (False, True):
        agreement = (_tflite_logits(content, x_val, deprecated_tf_lite).argmax(-1) == logits.argmax(-1)).mean()
        assert agreement >= 0.98, (agreement, deprecated_tf_lite)


def test_int8_keeps_the_attention_float_unless_asked(trained, digits):
    model, _ = trained
    (x_train, _), _ = digits
    selective = convert_to_tflite(model, "int8", representative_data=x_train[:32])
    assert _operator_input_types(selective, "BATCH_MATMUL") == _operator_input_types(selective, "SOFTMAX") == {"float32"}
    assert "int8" in _operator_input_types(selective, "FULLY_CONNECTED")  # the rest is quantised
    everything = convert_to_tflite(model, "int8", representative_data=x_train[:32], int8_float_ops=())
    assert _operator_input_types(everything, "BATCH_MATMUL") == _operator_input_types(everything, "SOFTMAX") == {"int8"}


def test_tflite_rejects_bad_arguments(trained):
    model, _ = trained
    with pytest.raises(ValueError, match="Unknown quantize 'int4'"):
        convert_to_tflite(model, "int4")
    with pytest.raises(ValueError, match="needs `representative_data`"):
        convert_to_tflite(model, "int8")
    with pytest.raises(ValueError, match=r"shape \(n, 8, 8, 1\)"):
        convert_to_tflite(model, "int8", representative_data=np.zeros((4, 8, 8)))


# --- CLI ---------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_cli_exports_saved_model_versions_and_tflite(trained, tmp_path, capsys):
    model, _ = trained
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    base = tmp_path / "saved_models" / "digits"
    for expected_version in (1, 2):
        assert main(["export", "--model", str(model_path), "--format", "saved_model", "--output", str(base)]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["version"] == expected_version and summary["signatures"] == [SERVING_DEFAULT, SERVING_BYTES]
        assert (base / str(expected_version) / "saved_model.pb").is_file()
    assert main(["export", "--model", str(model_path), "--format", "tflite", "--output", str(tmp_path / "lite")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert Path(summary["path"]) == tmp_path / "lite" / "model_none.tflite"
    assert summary["bytes"] == (tmp_path / "lite" / "model_none.tflite").stat().st_size
    assert not any(name.startswith("CUSTOM") for name in summary["operators"])
    assert main(["export", "--model", str(model_path), "--format", "tflite", "--quantize", "int8",
                 "--output", str(tmp_path)]) == 2
    assert "--quantize int8 needs --representative-data" in one_error_line(capsys)
    assert main(["export", "--model", str(model_path), "--output", str(base), "--version", "1"]) == 1
    assert one_error_line(capsys) == (f"error: {base / '1'} exists; pass another --version (or none: the next "
                                      "version), or --overwrite to replace it.")


@pytest.mark.slow
@pytest.mark.e2e
def test_cli_int8_calibrates_on_any_data_source_through_the_models_preprocessing(trained, digits, tmp_path, capsys):
    """`--representative-data digits` is read like training data (pixels 0-255, scaled by the model's 1/255)."""
    model, logits = trained
    model.save(tmp_path / "model.keras")
    assert main(["export", "--model", str(tmp_path / "model.keras"), "--format", "tflite", "--quantize", "int8",
                 "--representative-data", "digits", "--calibration-examples", "64", "--output", str(tmp_path)]) == 0
    content = (tmp_path / "model_int8.tflite").read_bytes()
    _, (x_val, _) = digits
    assert (_tflite_logits(content, x_val).argmax(-1) == logits.argmax(-1)).mean() >= 0.95
