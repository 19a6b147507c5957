"""Deployment numbers for a trained digits model: SavedModel and every TFLite variant.

    perceiver-tf train                       # the demo model -> saved_models/digits/model.keras
    python benchmarks/export_benchmark.py    # -> benchmarks/results/export.json

Measures, against the Keras model on the held-out digits split (360 examples):
- SavedModel: max abs diff of each output, computed in a fresh process without perceiver_tf
  (float signature; the raw-PNG signature too when the model metadata has "preprocessing");
- TFLite none / float16 / dynamic / int8, and int8 with every op quantised (`int8_float_ops=()`,
  the export before the attention was kept float): file size, builtin-only op check,
  single-example latency (LiteRT where installed, else tf.lite; 1 thread, median and p90 over
  `--runs`), max abs logit diff, accuracy, and top-1 agreement with Keras under each interpreter
  users run: LiteRT's default, TensorFlow's deprecated `tf.lite.Interpreter` (default XNNPACK
  delegate) and the reference kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import perceiver_tf
from perceiver_tf.data import load_digits_split
from perceiver_tf.data.preprocessing import IMAGE_DEFAULTS
from perceiver_tf.export import (
    INT8_FLOAT_OPS,
    QUANTIZATIONS,
    SERVING_BYTES,
    SERVING_DEFAULT,
    convert_to_tflite,
    export_saved_model,
    non_builtin_operators,
    tflite_interpreter,
    tflite_operators,
    tflite_runtime,
)
from perceiver_tf.testing import run_signatures_in_fresh_process

WARMUP_RUNS = 10


def _latency_ms(call, runs: int) -> dict[str, float]:
    for _ in range(WARMUP_RUNS):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return {"median": float(np.median(times)), "p90": float(np.percentile(times, 90))}


def _max_abs_diff(outputs: dict, logits: np.ndarray) -> dict[str, float]:
    probabilities = tf.nn.softmax(logits).numpy()
    return {
        "logits": float(np.abs(outputs["logits"] - logits).max()),
        "probabilities": float(np.abs(outputs["probabilities"] - probabilities).max()),
        "class_ids_equal": float((outputs["class_ids"] == logits.argmax(-1)).mean()),
    }


def _png_round_trip(x: np.ndarray, config: dict) -> tuple[list[bytes], np.ndarray]:
    """Encode model inputs as 8-bit PNGs per the preprocessing config; also the inputs they decode to."""
    scale, offset = (config.get(key, IMAGE_DEFAULTS[key]) for key in ("scale", "offset"))
    pixels = np.clip(np.round((x - offset) / scale), 0, 255).astype(np.uint8)
    return [tf.io.encode_png(image).numpy() for image in pixels], pixels * scale + offset


def benchmark_saved_model(model, x_val, logits, work_dir: Path, runs: int) -> dict:
    export = export_saved_model(model, work_dir / "saved_model" / "digits")
    calls = {SERVING_DEFAULT: {"inputs": x_val}}
    config = model.metadata.get("preprocessing") or {}
    png_reference = None
    if export.bytes_input == "image_bytes" and config.get("channels") == x_val.shape[-1]:
        pngs, decoded = _png_round_trip(x_val, config)
        calls[SERVING_BYTES] = {"image_bytes": pngs}
        png_reference = model.predict(decoded.astype(np.float32), batch_size=len(decoded), verbose=0)
    outputs = run_signatures_in_fresh_process(export.path, calls)
    serve = tf.saved_model.load(str(export.path)).signatures[SERVING_DEFAULT]
    single = tf.constant(x_val[:1])
    result = {
        "signatures": list(export.signatures),
        "fresh_process_max_abs_diff": _max_abs_diff(outputs[SERVING_DEFAULT], logits),
        "in_process_latency_ms": _latency_ms(lambda: serve(inputs=single), runs),
    }
    if png_reference is not None:
        result["fresh_process_png_signature_max_abs_diff"] = _max_abs_diff(outputs[SERVING_BYTES], png_reference)
    else:
        result["note"] = "no raw-bytes signature checked: the model metadata has no image 'preprocessing'"
    return result


#: The interpreters a `.tflite` file is checked under: `{name: tflite_interpreter options}`.
INTERPRETERS = {
    "default": {},
    "tf.lite default (XNNPACK)": {"runtime": "tf.lite"},
    "tf.lite reference kernels": {"runtime": "tf.lite", "reference_kernels": True},
}


def benchmark_tflite(model, quantize, x_train, x_val, y_val, logits, work_dir: Path, runs: int,
                     int8_float_ops=INT8_FLOAT_OPS) -> dict:
    start = time.perf_counter()
    content = convert_to_tflite(model, quantize, representative_data=x_train, int8_float_ops=int8_float_ops)
    convert_seconds = time.perf_counter() - start
    name = quantize if int8_float_ops == INT8_FLOAT_OPS else f"{quantize}_all_ops"
    path = work_dir / f"model_{name}.tflite"
    path.write_bytes(content)
    agreement = {}
    for interpreter_name, options in INTERPRETERS.items():
        runner = tflite_interpreter(model_path=path, num_threads=1, **options).get_signature_runner(SERVING_DEFAULT)
        tflite_logits = np.concatenate([runner(inputs=x_val[i : i + 1])["logits"] for i in range(len(x_val))])
        agreement[interpreter_name] = float((tflite_logits.argmax(-1) == logits.argmax(-1)).mean())
        if interpreter_name == "default":
            default_runner, default_logits = runner, tflite_logits
    single = x_val[:1]
    return {
        "quantize": quantize,
        "int8_float_ops": list(int8_float_ops) if quantize == "int8" else [],
        "bytes": path.stat().st_size,
        "builtin_only": not non_builtin_operators(content),
        "operators": sorted(set(tflite_operators(content))),
        "latency_ms": _latency_ms(lambda: default_runner(inputs=single), runs),
        "max_abs_diff_logits": float(np.abs(default_logits - logits).max()),
        "top1_agreement": agreement["default"],
        "top1_agreement_by_interpreter": agreement,
        "accuracy": float((default_logits.argmax(-1) == y_val).mean()),
        "convert_seconds": round(convert_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="saved_models/digits/model.keras")
    parser.add_argument("--output", default="benchmarks/results/export.json")
    parser.add_argument("--work-dir", default=None, help="Keep the exports here (default: a temporary directory).")
    parser.add_argument("--runs", type=int, default=200, help="Timed single-example calls per latency.")
    args = parser.parse_args()

    model = keras.saving.load_model(args.model)
    if model.metadata.get("data", "digits") != "digits":
        raise SystemExit(f"error: this benchmark uses the digits split; the model was trained on {model.metadata['data']!r}")
    (x_train, _), (x_val, y_val) = load_digits_split()
    logits = model.predict(x_val, batch_size=len(x_val), verbose=0)
    with tempfile.TemporaryDirectory() as scratch:
        work_dir = Path(args.work_dir or scratch)
        work_dir.mkdir(parents=True, exist_ok=True)
        saved_model = benchmark_saved_model(model, x_val, logits, work_dir, args.runs)
        tflite = [benchmark_tflite(model, q, x_train, x_val, y_val, logits, work_dir, args.runs) for q in QUANTIZATIONS]
        tflite.append(benchmark_tflite(model, "int8", x_train, x_val, y_val, logits, work_dir, args.runs,
                                       int8_float_ops=()))
    result = {
        "model": args.model,
        "preset": model.metadata.get("preset"),
        "params": model.count_params(),
        "held_out_examples": len(x_val),
        "keras_accuracy": float((logits.argmax(-1) == y_val).mean()),
        "saved_model": saved_model,
        "tflite": tflite,
        "environment": {
            "perceiver_tf": perceiver_tf.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "tflite_threads": 1,
            "tflite_default_interpreter": tflite_runtime(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
