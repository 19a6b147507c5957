"""GPU benchmark through Keras' JAX backend: float32 vs mixed_bfloat16, explicit vs fused attention.

TensorFlow is not needed: the layers are keras.ops-only, so the same model runs on JAX (every
step is XLA-compiled). Times are absolute (seconds per step) on the machine it runs on; MFU is
against the same run's measured matmul peak (bf16 and fp32/TF32 separately).

    KERAS_BACKEND=jax python -m benchmarks.bench_gpu_jax [--budget-s 300] [--smoke]

`--smoke` shrinks every configuration so the script can be checked on a CPU in a minute.
Writes results/gpu_jax.json (or the path given by --output).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

from benchmarks.bench_peer import PERCEIVER_TF_OVERRIDES  # noqa: E402
from benchmarks.common import forward_flops, markdown_table, median, time_steps, write_results  # noqa: E402

#: (name, preset, input_shape, input_kind, batch, overrides).
PEER = ("peer config (M=4096x261)", "tiny", (4096, 261), "array", 32, PERCEIVER_TF_OVERRIDES)
IMAGENET = ("imagenet 224x224 (M=50,176)", "imagenet", (224, 224, 3), "image", 8, {})
SMOKE_OVERRIDES = dict(num_latents=16, latent_dim=64, num_blocks=2, num_cross_attends=2,
                       num_self_attends_per_block=1, num_self_attention_heads=2, num_bands=4)
#: (workload, dtype policy, fused attention), most important first: later ones are skipped
#: when the time budget would be exceeded.
PLAN = [
    (PEER, "float32", False),
    (PEER, "mixed_bfloat16", False),
    (PEER, "mixed_bfloat16", True),
    (PEER, "float32", True),
    (IMAGENET, "float32", False),
    (IMAGENET, "mixed_bfloat16", True),
    (IMAGENET, "mixed_bfloat16", False),
    (IMAGENET, "float32", True),
]


def matmul_peak(dtype: str, size: int) -> float:
    import jax
    import jax.numpy as jnp

    a = jnp.ones((size, size), dtype)
    b = jnp.ones((size, size), dtype)
    product = jax.jit(lambda x, y: x @ y)
    times = time_steps(lambda: product(a, b).block_until_ready(), min_seconds=1.0, warmup=2)
    return 2 * size**3 / min(times)


def measure(workload, policy: str, fused: bool, smoke: bool, seconds: float) -> dict:
    import keras

    from perceiver_tf import build_classifier

    name, preset, shape, kind, batch, overrides = workload
    if smoke:
        shape, batch, overrides = tuple(min(s, 16) if i == 0 else s for i, s in enumerate(shape)), 2, {**overrides, **SMOKE_OVERRIDES}
    keras.config.set_dtype_policy(policy)
    model = build_classifier(preset, shape, 10, input_kind=kind, use_fused_attention=fused, **overrides)
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, *shape)).astype("float32")
    y = rng.integers(0, 10, size=(batch,)).astype("int32")
    row = {"workload": name, "policy": policy, "fused_attention": fused, "batch": batch}
    for mode, step in (("train", lambda: model.train_on_batch(x, y)), ("inference", lambda: model.predict_on_batch(x))):
        start = time.perf_counter()
        step()  # compile
        row[f"{mode}_compile_s"] = time.perf_counter() - start
        times = time_steps(step, seconds, min_steps=5, warmup=1)
        row[f"{mode}_step_s"] = median(times)
        row[f"{mode}_examples_per_s"] = batch / median(times)
    flops = forward_flops(model)
    row["train_tflops"] = 3 * flops * batch / row["train_step_s"] / 1e12
    row["inference_tflops"] = flops * batch / row["inference_step_s"] / 1e12
    keras.config.set_dtype_policy("float32")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=300.0, help="stop starting new measurements after this")
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum timed seconds per measurement")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes, for a CPU check")
    parser.add_argument("--output", default=None, help="also write the JSON here")
    args = parser.parse_args()

    import jax

    start = time.perf_counter()
    size = 1024 if args.smoke else 8192
    peaks = {dtype: matmul_peak(dtype, size) for dtype in ("float32", "bfloat16")}
    print({k: f"{v / 1e12:.1f} TFLOP/s" for k, v in peaks.items()}, flush=True)
    rows, last_cost = [], {}
    payload = {"device": str(jax.devices()[0]), "jax": jax.__version__, "keras": __import__("keras").__version__,
               "matmul_peak_flops": peaks, "matmul_size": size, "smoke": args.smoke, "rows": rows}
    for workload, policy, fused in PLAN:
        elapsed = time.perf_counter() - start
        if elapsed + last_cost.get(workload[0], 0.0) > args.budget_s:
            print(f"budget: skipping {workload[0]} {policy} fused={fused}", flush=True)
            continue
        row = measure(workload, policy, fused, args.smoke, args.seconds)
        last_cost[workload[0]] = time.perf_counter() - start - elapsed
        peak = peaks["bfloat16" if "bfloat16" in policy else "float32"]
        row["train_mfu"] = row["train_tflops"] * 1e12 / peak
        row["inference_mfu"] = row["inference_tflops"] * 1e12 / peak
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.output:  # after every row, so a run cut short still leaves its numbers
            with open(args.output, "w") as f:
                json.dump(payload, f, indent=2)
    columns = ["workload", "policy", "fused_attention", "batch", "train_step_s", "inference_step_s",
               "train_examples_per_s", "inference_examples_per_s", "train_mfu", "inference_mfu"]
    print(markdown_table(rows, columns))
    if not args.smoke:
        write_results("gpu_jax", payload)


if __name__ == "__main__":
    main()
