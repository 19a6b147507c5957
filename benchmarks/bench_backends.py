"""TensorFlow vs JAX backend, side by side on this machine: the same model and data, each backend
with perceiver_tf's defaults (jit_compile "auto": XLA under both for these fixed shapes; JAX un-jitted too).

    python -m benchmarks.bench_backends [--min-seconds 3]

Each backend runs in its own process (`--child BACKEND JIT PRESETS`, one Keras backend per process), one
after the other, on the digits shape (8x8x1, 10 classes, batch 64) for the `tiny` and `small`
presets: a train step (`train_on_batch`), `fit` over 1,437 examples (one epoch, after a warm-up
epoch), an inference step (`predict_on_batch`) and `predict` over 360 examples. Writes
results/backends.json; `python -m benchmarks.make_report` puts the table in RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks.common import median, time_steps, write_results

PRESETS = ("tiny", "small")
#: (backend, jit_compile, presets) per child process: the defaults, then JAX without XLA (tiny only:
#: an un-jitted `small` takes seconds per step).
RUNS = (("tensorflow", "auto", PRESETS), ("jax", "auto", PRESETS), ("jax", "off", ("tiny",)))
BATCH, TRAIN_EXAMPLES, PREDICT_EXAMPLES = 64, 1437, 360


def measure(preset: str, jit: str, min_seconds: float) -> dict:
    """One row: the timings of `preset` on the running backend."""
    import keras
    import numpy as np

    import perceiver_tf
    from perceiver_tf.training import compile_classifier

    rng = np.random.default_rng(0)
    x = rng.random((TRAIN_EXAMPLES, 8, 8, 1), dtype=np.float32)
    y = rng.integers(0, 10, TRAIN_EXAMPLES)
    model = perceiver_tf.build_classifier(preset, (8, 8, 1), 10)
    compile_classifier(model, total_steps=10_000, optimizer="adamw", learning_rate=1e-3,
                       jit_compile="auto" if jit == "auto" else jit == "on")
    batch_x, batch_y = x[:BATCH], y[:BATCH]
    train_step = median(time_steps(lambda: model.train_on_batch(batch_x, batch_y), min_seconds, warmup=2))
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # warm-up epoch (compiles the last, partial batch)
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    fit_seconds = time.perf_counter() - start
    inference_step = median(time_steps(lambda: model.predict_on_batch(batch_x), min_seconds, warmup=2))
    model.predict(x[:PREDICT_EXAMPLES], batch_size=BATCH, verbose=0)
    start = time.perf_counter()
    model.predict(x[:PREDICT_EXAMPLES], batch_size=BATCH, verbose=0)
    predict_seconds = time.perf_counter() - start
    return {"backend": keras.backend.backend(), "preset": preset, "jit_compile": bool(model.jit_compile),
            "parameters": model.count_params(), "train_step_ms": 1e3 * train_step,
            "fit_examples_per_s": TRAIN_EXAMPLES / fit_seconds, "inference_step_ms": 1e3 * inference_step,
            "predict_examples_per_s": PREDICT_EXAMPLES / predict_seconds}


def _child(backend: str, jit: str, presets: str, min_seconds: float) -> None:
    assert os.environ.get("KERAS_BACKEND") == backend
    print(json.dumps([measure(preset, jit, min_seconds) for preset in presets.split(",")]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-seconds", type=float, default=3.0, help="Timing per measured step kind.")
    parser.add_argument("--child", nargs=3, metavar=("BACKEND", "JIT", "PRESETS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child, args.min_seconds)
        return
    rows = []
    for backend, jit, presets in RUNS:
        print(f"{backend} (jit_compile {jit}): {', '.join(presets)} ...", flush=True)
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        result = subprocess.run([sys.executable, "-m", "benchmarks.bench_backends", "--child", backend, jit,
                                 ",".join(presets), "--min-seconds", str(args.min_seconds)], env=env, capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            raise SystemExit(f"{backend} failed:\n{result.stderr[-3000:]}")
        rows += json.loads(result.stdout.strip().splitlines()[-1])
    baseline = {row["preset"]: row for row in rows if row["backend"] == "tensorflow"}
    for row in rows:
        base = baseline[row["preset"]]
        row["train_step_vs_tf"] = base["train_step_ms"] / row["train_step_ms"]
        row["inference_step_vs_tf"] = base["inference_step_ms"] / row["inference_step_ms"]
    path = write_results("backends", {"batch": BATCH, "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
