"""Training and inference throughput of the presets, MFU, XLA, mixed precision, tf.data, retracing.

For each preset (tiny and small on 32x32x3 images, batch 32; imagenet on 224x224x3, batch 1)
and execution variant (tf.function graph, XLA `jit_compile=True`, `mixed_bfloat16`, fused
attention, eager; the slow ones on the tiny preset only, to fit a 2-core machine), times `train_on_batch` (Adam) and `predict_on_batch` and reports examples/s
and MFU: counted matmul FLOPs (training = 3x forward) per second over the `tf.matmul` peak
measured just before and just after that row (the larger of the two: the machine is shared,
so the peak is re-measured per row; float32, bfloat16 rows against the bfloat16 peak). Then measures a tf.data
input pipeline against the model's training step, and counts how often Keras traces the
train/predict step across epochs with a ragged last batch and across batch sizes.

    python -m benchmarks.bench_throughput [--seconds 3] [--threads 2] [--skip-imagenet]
        [--resume results/throughput_rows.jsonl]

Every measured row is appended to results/throughput_rows.jsonl as it completes; `--resume`
reuses the rows in such a file (a run cut short on a busy machine) and measures only the rest.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks.common import (
    RESULTS_DIR,
    configure_tensorflow,
    forward_flops,
    markdown_table,
    matmul_peak_flops,
    median,
    time_steps,
    write_results,
)

NUM_CLASSES = 10
#: (preset, input shape, batch, variants)
WORKLOADS = [
    ("tiny", (32, 32, 3), 32, ("graph", "xla", "mixed_bfloat16", "fused", "eager")),
    ("small", (32, 32, 3), 32, ("graph", "xla", "mixed_bfloat16")),
    ("imagenet", (224, 224, 3), 1, ("graph",)),
]


def build(preset: str, shape: tuple, variant: str):
    import keras

    from perceiver_tf import build_classifier

    keras.config.set_dtype_policy("mixed_bfloat16" if variant == "mixed_bfloat16" else "float32")
    model = build_classifier(preset, shape, NUM_CLASSES, use_fused_attention=variant == "fused")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=variant == "xla",
        run_eagerly=variant == "eager",
    )
    keras.config.set_dtype_policy("float32")
    return model


def measure(preset: str, shape: tuple, batch: int, variant: str, seconds: float) -> dict:
    dtype = "bfloat16" if variant == "mixed_bfloat16" else "float32"
    peak_before = matmul_peak_flops(seconds=1.5, dtype=dtype)
    model = build(preset, shape, variant)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, *shape)).astype("float32")
    y = rng.integers(0, NUM_CLASSES, size=(batch,)).astype("int32")
    row = {"preset": preset, "variant": variant, "batch": batch, "params": model.count_params()}
    # imagenet steps take many seconds on a CPU: time fewer of them.
    min_steps = 1 if preset == "imagenet" else 3
    for mode, step in (("train", lambda: model.train_on_batch(x, y)), ("inference", lambda: model.predict_on_batch(x))):
        start = time.perf_counter()
        step()
        row[f"{mode}_first_step_s"] = time.perf_counter() - start
        times = time_steps(step, seconds, min_steps=min_steps, warmup=0)
        row[f"{mode}_examples_per_s"] = batch / median(times)
    flops = forward_flops(model)
    peak = max(peak_before, matmul_peak_flops(seconds=1.5, dtype=dtype))
    row["matmul_peak_gflops"] = peak / 1e9
    row["forward_gflop_per_example"] = flops / 1e9
    row["train_mfu"] = 3 * flops * row["train_examples_per_s"] / peak
    row["inference_mfu"] = flops * row["inference_examples_per_s"] / peak
    return row


def input_pipeline_throughput(shape: tuple, batch: int, seconds: float) -> float:
    """Examples/s of a tf.data pipeline: uint8 images -> float, random flip, batch, prefetch."""
    import tensorflow as tf

    images = np.random.default_rng(0).integers(0, 256, size=(4096, *shape), dtype=np.uint8)
    labels = np.arange(4096) % NUM_CLASSES

    def augment(image, label):
        image = tf.image.random_flip_left_right(tf.cast(image, tf.float32) / 255.0)
        return (image - 0.5) / 0.25, label

    dataset = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .repeat()
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch)
        .prefetch(tf.data.AUTOTUNE)
    )
    iterator = iter(dataset)
    next(iterator)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        count += int(next(iterator)[0].shape[0])
    return count / (time.perf_counter() - start)


def count_traces(preset: str, shape: tuple) -> dict:
    """Python-level executions of train_step/predict_step = tf.function traces."""
    import tensorflow as tf

    model = build(preset, shape, "graph")
    counts = {"train": 0, "predict": 0}
    for mode in counts:
        original = getattr(model, f"{mode}_step")

        def counted(data, _original=original, _mode=mode):
            counts[_mode] += 1
            return _original(data)

        setattr(model, f"{mode}_step", counted)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, *shape)).astype("float32")  # batches of 32: the last one has 4
    y = rng.integers(0, NUM_CLASSES, size=(100,))
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(32), epochs=3, verbose=0)
    for size in (32, 7, 19, 100):
        model.predict(x[:size], batch_size=32, verbose=0)
    return {"train_traces_3_epochs_ragged_last_batch": counts["train"],
            "predict_traces_4_calls_4_batch_sizes": counts["predict"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds per measurement")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    parser.add_argument("--skip-imagenet", action="store_true", help="leave out the imagenet preset")
    parser.add_argument("--resume", default=None, help="JSON-lines file of rows already measured")
    args = parser.parse_args()
    done = {}
    if args.resume:
        for line in open(args.resume):
            row = json.loads(line)
            done[(row["preset"], row["variant"])] = row
    rows_log = RESULTS_DIR / "throughput_rows.jsonl"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)

    configure_tensorflow(args.threads)
    import tensorflow as tf

    rows, small_graph_train = [], None
    for preset, shape, batch, variants in WORKLOADS:
        if preset == "imagenet" and args.skip_imagenet:
            continue
        for variant in variants:
            row = done.get((preset, variant)) or measure(preset, shape, batch, variant, args.seconds)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if (preset, variant) not in done:
                with open(rows_log, "a") as f:
                    f.write(json.dumps(row) + "\n")
            if (preset, variant) == ("small", "graph"):
                small_graph_train = row["train_examples_per_s"]

    def speedup(preset, variant, mode):
        base = next(r for r in rows if r["preset"] == preset and r["variant"] == "graph")
        other = next(r for r in rows if r["preset"] == preset and r["variant"] == variant)
        return other[f"{mode}_examples_per_s"] / base[f"{mode}_examples_per_s"]

    speedups = [
        {"preset": r["preset"], "variant": r["variant"],
         "train_speedup_vs_graph": speedup(r["preset"], r["variant"], "train"),
         "inference_speedup_vs_graph": speedup(r["preset"], r["variant"], "inference")}
        for r in rows if r["variant"] != "graph"
    ]
    pipeline = input_pipeline_throughput((32, 32, 3), 32, args.seconds)
    input_pipeline = {"pipeline_examples_per_s": pipeline, "small_train_examples_per_s": small_graph_train,
                      "pipeline_over_train_step": pipeline / small_graph_train}
    traces = count_traces("tiny", (32, 32, 3))
    print(markdown_table(rows, ["preset", "variant", "batch", "train_examples_per_s", "inference_examples_per_s",
                                "train_mfu", "inference_mfu"]))
    print(markdown_table(speedups, ["preset", "variant", "train_speedup_vs_graph", "inference_speedup_vs_graph"]))
    print(input_pipeline, traces)
    write_results("throughput", {
        "threads": args.threads, "rows": rows, "speedups": speedups,
        "input_pipeline": input_pipeline, "retracing": traces,
        "versions": {"tensorflow": tf.__version__, "keras": __import__("keras").__version__},
    })


if __name__ == "__main__":
    main()
