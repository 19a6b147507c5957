"""Peak memory of one training step vs input size M: explicit, chunked (stored) and chunked (recomputed) cross-attention.

The model: inputs `(1, M, 64)` -> `PerceiverEncoder` (256 latents x 256, one cross-attend with
one head, one 4-head self-attend) -> mean over latents -> Dense(10); one SGD step of a
cross-entropy loss (`tf.function`, float32). Each point runs in a fresh process and a watchdog
kills it once its resident memory passes `--budget-mb` ("over budget"). Gradients:

- `explicit`: no chunking; the `(1, 1, 256, M)` probabilities are stored for the backward pass.
- `chunked, stored`: `cross_attention_chunk_size` with the loop differentiated automatically,
  which stores every chunk's probabilities (the model called with `training=False` inside the
  tape: perceiver_tf recomputes only in training; this model has no dropout, so nothing else changes).
- `chunked, recomputed`: perceiver_tf's training path: the backward pass recomputes each chunk
  (`perceiver_tf.layers.chunked_attention`), keeping only per-query statistics.

Also searches (doubling M) the largest M whose training step fits in the budget per variant.

Then the models users build: `build_classifier("tiny", ..., num_latents=256,
cross_attention_chunk_size=8192)` for each input kind (2 cross-attends with their own input
LayerNorms, the kind's position features, masks), one `train_on_batch` step (SGD, batch 1) in
a fresh process at M = 2**18 and 2**20 elements of 64 channels, and without chunking at 2**18.

    python -m benchmarks.bench_training_memory [--budget-mb 4096] [--min-log2 12] [--max-log2 20] [--search-max-log2 22]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from benchmarks.common import (
    RESULTS_DIR,
    add_memory_search_arguments,
    configure_tensorflow,
    markdown_table,
    peak_rss_mb,
    run_watched,
    write_results,
)

CHANNELS, WIDTH, NUM_LATENTS, HEADS, CHUNK, NUM_CLASSES = 64, 256, 256, 4, 8192, 10
#: variant -> (chunk size, recompute the chunked gradient)
VARIANTS = {"explicit": (None, False), "chunked, stored": (CHUNK, False), "chunked, recomputed": (CHUNK, True)}
#: built classifier case -> (input kind, build_classifier options, masked inputs); inputs have M elements of
#: CHANNELS values, laid out as the kind's grid (`classifier_input_shape`).
CLASSIFIER_CASES = {
    "array": ("array", {}, False),
    "array, masked": ("array", {"use_input_mask": True}, True),
    "array, learned positions": ("array", {"position_encoding": "learned"}, False),
    "sequence (Fourier)": ("sequence", {}, False),
    "image (2-D Fourier)": ("image", {}, False),
    "points (3-D Fourier)": ("points", {}, False),
}
CLASSIFIER_LOG2 = (18, 20)


def worker(num_inputs: int, variant: str) -> dict:
    """Runs in the subprocess: one training step at one M; prints its time and memory as JSON."""
    configure_tensorflow(threads=None)
    import keras
    import numpy as np
    import tensorflow as tf

    from perceiver_tf.layers import PerceiverEncoder

    chunk, recompute = VARIANTS[variant]
    inputs = keras.Input((None, CHANNELS))
    latents = PerceiverEncoder(
        num_latents=NUM_LATENTS, latent_dim=WIDTH, num_blocks=1, num_self_attends_per_block=1,
        num_self_attention_heads=HEADS, cross_attention_chunk_size=chunk, name="encoder",
    )(inputs)
    logits = keras.layers.Dense(NUM_CLASSES, name="head")(keras.ops.mean(latents, axis=1))
    model = keras.Model(inputs, logits)
    optimizer = keras.optimizers.SGD(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=recompute))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    x = tf.constant(np.random.default_rng(0).normal(size=(1, num_inputs, CHANNELS)).astype("float32"))
    y = tf.constant([3])
    optimizer.build(model.trainable_variables)
    train_step.get_concrete_function(x, y)
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = []
    for _ in range(2):
        start = time.perf_counter()
        train_step(x, y).numpy()
        times.append(time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"step_s": min(times), "peak_rss_mb": peak_mb, "step_peak_mb": peak_mb - baseline_mb}


def classifier_input_shape(kind: str, num_inputs: int) -> tuple[int, ...]:
    """One example's shape with `num_inputs` elements: a square image, else `(M, CHANNELS)`."""
    if kind == "image":
        side = int(round(num_inputs**0.5))
        return (side, side, CHANNELS)
    return (num_inputs, CHANNELS)


def classifier_worker(num_inputs: int, case: str, chunk: int | None) -> dict:
    """Runs in the subprocess: one `train_on_batch` step of a built classifier; prints time and memory."""
    configure_tensorflow(threads=None)
    import keras
    import numpy as np

    import perceiver_tf as pt

    kind, options, masked = CLASSIFIER_CASES[case]
    shape = classifier_input_shape(kind, num_inputs)
    model = pt.build_classifier("tiny", shape, NUM_CLASSES, input_kind=kind, num_latents=NUM_LATENTS,
                                cross_attention_chunk_size=chunk, **options)
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(1, *shape)).astype("float32")
    if masked:
        x = {"inputs": x, "input_mask": np.arange(num_inputs)[None] < num_inputs * 3 // 4}
    y = np.array([3])
    baseline_mb = peak_rss_mb()
    times = []
    for _ in range(2):  # the first step traces
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    peak_mb = peak_rss_mb()
    return {"step_s": times[-1], "peak_rss_mb": peak_mb, "step_peak_mb": peak_mb - baseline_mb,
            "parameters": model.count_params()}


def run_classifier_point(num_inputs: int, case: str, chunk: int | None, budget_mb: float) -> dict:
    command = [sys.executable, "-m", "benchmarks.bench_training_memory", "--classifier-worker", str(num_inputs), case,
               str(chunk or 0)]
    row = {"case": case, "M": num_inputs, "chunk": chunk or "none", **run_watched(command, budget_mb)}
    print(json.dumps(row), flush=True)
    return row


def classifier_rows(budget_mb: float) -> list[dict]:
    rows = []
    for case in CLASSIFIER_CASES:
        rows.append(run_classifier_point(2 ** CLASSIFIER_LOG2[0], case, None, budget_mb))
        rows += [run_classifier_point(2**log2, case, CHUNK, budget_mb) for log2 in CLASSIFIER_LOG2]
    return rows


def run_point(num_inputs: int, variant: str, budget_mb: float) -> dict:
    command = [sys.executable, "-m", "benchmarks.bench_training_memory", "--worker", str(num_inputs), variant]
    row = {"variant": variant, "M": num_inputs, **run_watched(command, budget_mb)}
    print(json.dumps(row), flush=True)
    return row


def plot(rows: list[dict], budget_mb: float, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for variant, marker in zip(VARIANTS, "osD"):
        points = [r for r in rows if r["variant"] == variant and r["status"] == "ok"]
        ms = [r["M"] for r in points]
        axes[0].loglog(ms, [r["peak_rss_mb"] for r in points], marker=marker, label=variant)
        axes[1].loglog(ms, [r["step_s"] for r in points], marker=marker, label=variant)
    axes[0].axhline(budget_mb, color="k", linestyle=":", label=f"budget {budget_mb / 1024:.0f} GiB")
    axes[0].set_ylabel("peak resident memory of the process (MB)")
    axes[1].set_ylabel("training step, batch 1 (s)")
    for ax in axes:
        ax.set_xlabel("input elements M")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"One training step, {NUM_LATENTS} latents x {WIDTH}, M x {CHANNELS} inputs (CPU, float32)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("M", "VARIANT"), help=argparse.SUPPRESS)
    parser.add_argument("--classifier-worker", nargs=3, metavar=("M", "CASE", "CHUNK"), help=argparse.SUPPRESS)
    add_memory_search_arguments(parser, 12, 20, 22)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(int(args.worker[0]), args.worker[1])))
        return
    if args.classifier_worker:
        num_inputs, case, chunk = args.classifier_worker
        print(json.dumps(classifier_worker(int(num_inputs), case, int(chunk) or None)))
        return

    built = classifier_rows(args.budget_mb)
    print(markdown_table(built, ["case", "M", "chunk", "status", "step_s", "peak_rss_mb"]))
    write_results("training_memory", {
        "config": {"channels": CHANNELS, "width": WIDTH, "num_latents": NUM_LATENTS, "heads": HEADS, "chunk": CHUNK,
                   "budget_mb": args.budget_mb, "batch": 1, "dtype": "float32", "optimizer": "SGD"},
        "classifier_rows": built, **encoder_results(args),
    })


def encoder_results(args) -> dict:
    """The bare encoder's table and fit search (plotted to results/training_memory.png)."""
    rows, largest = [], {}
    for variant in VARIANTS:
        largest[variant] = None
        for log2 in range(args.min_log2, args.search_max_log2 + 1):
            row = run_point(2**log2, variant, args.budget_mb)
            if row["status"] != "ok":
                if log2 <= args.max_log2:
                    rows.append(row)
                break  # larger M cannot fit either
            largest[variant] = 2**log2
            if log2 <= args.max_log2:
                rows.append(row)
    print(markdown_table(rows, ["variant", "M", "status", "step_s", "step_peak_mb", "peak_rss_mb"]))
    print("largest M whose training step fits:", largest)
    plot(rows, args.budget_mb, RESULTS_DIR / "training_memory.png")
    return {"rows": rows, "largest_m_within_budget": largest, "search_max_m": 2**args.search_max_log2}


if __name__ == "__main__":
    main()
