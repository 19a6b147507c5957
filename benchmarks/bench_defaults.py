"""Which execution options pay on this device: XLA, mixed precision and fused attention per preset.

For each workload (a preset on an input shape, batch 64 as the CLI's default) and each combination of XLA
(`jit_compile`), dtype policy (float32 / the device's mixed policy) and fused attention, builds
the classifier, times its first training step (tracing + compilation), its steady training step
(`train_on_batch`, AdamW) and its inference step (`predict_on_batch`), and reports the speed-ups
over the float32 tf.function graph. The time of a 600-step run (first step + 599 steady steps,
about the CLI demo's 25 epochs x 23 steps) says what a short run should use; the steady-state ratio says
what a long one should. `perceiver_tf.backend_support.default_jit_compile` records the choice
this table supports (README: "Execution defaults").

    python -m benchmarks.bench_defaults [--seconds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from benchmarks.common import configure_tensorflow, markdown_table, median, time_steps, write_results

NUM_CLASSES, BATCH, RUN_STEPS = 10, 64, 600
#: (preset, input shape): the CLI demo's digits shape for both CPU presets, and a 32x32 RGB image.
WORKLOADS = [("tiny", (8, 8, 1)), ("small", (8, 8, 1)), ("small", (32, 32, 3))]
#: (jit_compile, mixed precision, fused attention); fused only in float32 (it changes no dtype).
VARIANTS = [(jit, mixed, fused) for jit, mixed, fused in itertools.product((False, True), repeat=3)
            if not (mixed and fused)]


def variant_name(jit: bool, mixed: bool, fused: bool) -> str:
    parts = ["xla" if jit else "graph"] + (["mixed"] if mixed else []) + (["fused"] if fused else [])
    return "+".join(parts)


def measure(preset: str, shape: tuple, jit: bool, mixed: bool, fused: bool, seconds: float) -> dict:
    import keras

    from perceiver_tf import build_classifier
    from perceiver_tf.backend_support import mixed_precision_policy

    policy = mixed_precision_policy() if mixed else "float32"
    keras.config.set_dtype_policy(policy)
    try:
        model = build_classifier(preset, shape, NUM_CLASSES, use_fused_attention=fused)
    finally:
        keras.config.set_dtype_policy("float32")
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=jit,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, *shape)).astype("float32")
    y = rng.integers(0, NUM_CLASSES, size=(BATCH,)).astype("int32")
    row = {"preset": preset, "input_shape": "x".join(map(str, shape)), "variant": variant_name(jit, mixed, fused),
           "jit_compile": jit, "policy": policy, "fused_attention": fused}
    for mode, step in (("train", lambda: model.train_on_batch(x, y)), ("inference", lambda: model.predict_on_batch(x))):
        start = time.perf_counter()
        step()
        row[f"{mode}_first_step_s"] = time.perf_counter() - start
        row[f"{mode}_step_ms"] = 1000 * median(time_steps(step, seconds, min_steps=5, warmup=1))
    row["run_steps_s"] = row["train_first_step_s"] + (RUN_STEPS - 1) * row["train_step_ms"] / 1000
    return row


def with_speedups(rows: list[dict]) -> list[dict]:
    """Add each row's speed-ups over its workload's float32 graph row (above 1: faster)."""
    for row in rows:
        base = next(r for r in rows if (r["preset"], r["input_shape"], r["variant"])
                    == (row["preset"], row["input_shape"], "graph"))
        row["train_speedup"] = base["train_step_ms"] / row["train_step_ms"]
        row["inference_speedup"] = base["inference_step_ms"] / row["inference_step_ms"]
        row["run_speedup"] = base["run_steps_s"] / row["run_steps_s"]
    return rows


def fastest(rows: list[dict]) -> list[dict]:
    """Per workload: the variant with the fastest short run, steady training step and inference step."""
    choices = []
    for preset, shape in dict.fromkeys((r["preset"], r["input_shape"]) for r in rows):
        mine = [r for r in rows if (r["preset"], r["input_shape"]) == (preset, shape)]
        choices.append({
            "preset": preset, "input_shape": shape,
            f"fastest_{RUN_STEPS}_step_run": min(mine, key=lambda r: r["run_steps_s"])["variant"],
            "fastest_training_step": min(mine, key=lambda r: r["train_step_ms"])["variant"],
            "fastest_inference_step": min(mine, key=lambda r: r["inference_step_ms"])["variant"],
        })
    return choices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum seconds per timed measurement")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    args = parser.parse_args()
    configure_tensorflow(args.threads)
    from perceiver_tf.backend_support import accelerator, backend

    rows = []
    for preset, shape in WORKLOADS:
        for jit, mixed, fused in VARIANTS:
            rows.append(measure(preset, shape, jit, mixed, fused, args.seconds))
            print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    rows = with_speedups(rows)
    choices = fastest(rows)
    columns = ["preset", "input_shape", "variant", "train_step_ms", "train_speedup", "inference_step_ms",
               "inference_speedup", "train_first_step_s", "run_speedup"]
    print(markdown_table(rows, columns))
    print(markdown_table(choices, list(choices[0])))
    write_results(f"defaults_{backend()}_{accelerator()}", {
        "backend": backend(), "device": accelerator(), "batch": BATCH, "threads": args.threads,
        "run_steps": RUN_STEPS, "rows": rows, "fastest": choices,
    })


if __name__ == "__main__":
    main()
