"""Time and peak memory vs input size M: Perceiver (O(M)) vs a dense Transformer (O(M^2)).

Both models are built here at the same width and run one forward pass (batch 1, float32,
`tf.function`) in a fresh subprocess per point, so each point's peak resident memory is its own.
A watchdog kills a point whose resident memory passes `--budget-mb` ("over budget").

- Perceiver: `PerceiverEncoder`, 512 latents x 256, one cross-attend (1 head) + one 4-head
  self-attend, inputs M x 64 channels; optionally chunked cross-attention.
- Dense Transformer: Dense(64 -> 256) then one 4-head `SelfAttention` block over all M tokens.

Also searches (doubling M) the largest M that runs within the budget with and without
`cross_attention_chunk_size`.

    python -m benchmarks.bench_scaling [--budget-mb 4096] [--max-log2 16] [--search-max-log2 23]
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
    run_watched,
    write_results,
)

CHANNELS, WIDTH, NUM_LATENTS, HEADS, CHUNK = 64, 256, 512, 4, 8192


def build(kind: str, chunk: int | None):
    import keras

    from perceiver_tf.layers import PerceiverEncoder, SelfAttention

    inputs = keras.Input((None, CHANNELS))
    if kind == "perceiver":
        outputs = PerceiverEncoder(
            num_latents=NUM_LATENTS, latent_dim=WIDTH, num_blocks=1, num_self_attends_per_block=1,
            num_self_attention_heads=HEADS, cross_attention_chunk_size=chunk, name="encoder",
        )(inputs)
    else:
        tokens = keras.layers.Dense(WIDTH, name="embed")(inputs)
        outputs = SelfAttention(num_heads=HEADS, name="self_attention")(tokens)
    return keras.Model(inputs, outputs)


def worker(kind: str, num_inputs: int, chunk: int | None, repeats: int) -> dict:
    """Runs in the subprocess: one model, one M; prints its timing and memory as JSON."""
    configure_tensorflow(threads=None)
    import numpy as np
    import tensorflow as tf

    model = build(kind, chunk)
    forward = tf.function(lambda x: model(x, training=False))
    x = tf.constant(np.random.default_rng(0).normal(size=(1, num_inputs, CHANNELS)).astype("float32"))
    forward.get_concrete_function(x)
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward(x).numpy()
        times.append(time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"time_s": min(times), "peak_rss_mb": peak_mb, "forward_peak_mb": peak_mb - baseline_mb}


def run_point(kind: str, num_inputs: int, chunk: int | None, budget_mb: float, repeats: int) -> dict:
    """One point in a fresh process, killed if its resident memory passes `budget_mb`."""
    command = [sys.executable, "-m", "benchmarks.bench_scaling", "--worker", kind, str(num_inputs),
               str(chunk or 0), str(repeats)]
    return {"model": kind, "M": num_inputs, "chunk": chunk, **run_watched(command, budget_mb)}


def plot(rows: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind, marker in (("perceiver", "o"), ("dense", "s")):
        points = [r for r in rows if r["model"] == kind and r["status"] == "ok"]
        ms = [r["M"] for r in points]
        axes[0].loglog(ms, [r["time_s"] for r in points], marker=marker, label=kind)
        axes[1].loglog(ms, [max(r["forward_peak_mb"], 1.0) for r in points], marker=marker, label=kind)
    ms = sorted({r["M"] for r in rows})
    for ax, key in ((axes[0], "time_s"), (axes[1], "forward_peak_mb")):
        first = next(r for r in rows if r["model"] == "dense" and r["status"] == "ok")
        ref = max(first[key], 1e-3)
        ax.loglog(ms, [ref * (m / ms[0]) for m in ms], "k:", label="O(M)")
        ax.loglog(ms, [ref * (m / ms[0]) ** 2 for m in ms], "k--", label="O(M^2)")
        ax.set_xlabel("input elements M")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("forward time, batch 1 (s)")
    axes[1].set_ylabel("forward peak memory over baseline (MB)")
    fig.suptitle("Perceiver vs dense Transformer, width 256, 64 input channels (CPU, float32)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=4, metavar=("KIND", "M", "CHUNK", "REPEATS"), help=argparse.SUPPRESS)
    add_memory_search_arguments(parser, 10, 16, 23)
    args = parser.parse_args()
    if args.worker:
        kind, m, chunk, repeats = args.worker
        print(json.dumps(worker(kind, int(m), int(chunk) or None, int(repeats))))
        return

    rows = []
    for kind in ("perceiver", "dense"):
        for log2 in range(args.min_log2, args.max_log2 + 1):
            row = run_point(kind, 2**log2, None, args.budget_mb, repeats=3)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if row["status"] != "ok":
                break  # larger M cannot fit either
    largest = {}
    search = []
    for label, chunk in (("unchunked", None), (f"chunk {CHUNK}", CHUNK)):
        largest[label] = None
        for log2 in range(17, args.search_max_log2 + 1):
            row = run_point("perceiver", 2**log2, chunk, args.budget_mb, repeats=1)
            search.append(row)
            print(json.dumps(row), flush=True)
            if row["status"] != "ok":
                break
            largest[label] = 2**log2
    print(markdown_table(rows, ["model", "M", "status", "time_s", "forward_peak_mb", "peak_rss_mb"]))
    print("largest M within budget:", largest)
    plot(rows, RESULTS_DIR / "scaling.png")
    write_results("scaling", {
        "config": {"channels": CHANNELS, "width": WIDTH, "num_latents": NUM_LATENTS, "heads": HEADS,
                   "chunk": CHUNK, "budget_mb": args.budget_mb, "batch": 1, "dtype": "float32"},
        "rows": rows, "fit_search": search, "largest_m_within_budget": largest,
        "search_max_m": 2**args.search_max_log2,
    })


if __name__ == "__main__":
    main()
