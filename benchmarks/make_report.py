"""Generate benchmarks/RESULTS.md from the JSON files in benchmarks/results/.

    python -m benchmarks.make_report

Every number in RESULTS.md comes from those files; sections whose file is missing say so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from benchmarks.common import RESULTS_DIR, markdown_table

REPORT = Path(__file__).resolve().parent / "RESULTS.md"


def load(name: str) -> dict | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def loglog_slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log(y) against log(x)."""
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def peer_section(peer: dict) -> list[str]:
    rows = peer["rows"]
    ours = [r for r in rows if r["implementation"].startswith("perceiver_tf")]
    graph = next(r for r in ours if r["implementation"] == "perceiver_tf (tf.function)")
    versions = peer["versions"]
    families = list(dict.fromkeys(r.get("family", r["implementation"]) for r in rows))
    float32_peers = [r for r in rows if r.get("family", r["implementation"]) == r["implementation"]
                     and not r["implementation"].startswith("perceiver_tf")]

    peer_versions = ", ".join(f"{name} {versions[name]}" for name in ("transformers", "perceiver-pytorch", "perceiver-io")
                              if name in versions)
    lines = [
        "## Peers: HF transformers, lucidrains' perceiver-pytorch and krasserm's perceiver-io on the identical "
        "configuration",
        "",
        f"`python -m benchmarks.bench_peer` ({peer['time_utc']}; torch {versions['torch']}, {peer_versions}, "
        f"TF {versions['tensorflow']}). "
        f"M={peer['config']['num_inputs']} x {peer['config']['channels']} inputs, 256 x 512 latents, 1 cross-attend, "
        f"4 x shared 2-layer latent Transformer, batch {peer['config']['batch']}, {peer['config']['threads']} threads; "
        "timed in interleaved rounds in one process (median step). The PyTorch peers come from "
        "`requirements-bench.txt`.",
        "",
    ]
    if "matmul_peak_gflops" in peer:
        peaks = peer["matmul_peak_gflops"]
        lines += [
            f"Roofline: {peer['forward_gflop_per_example']:.1f} GFLOP of matmuls per example forward (training 3x), the "
            f"same for every implementation; MFU against the 2048^3 `tf.matmul` peak of the row's precision measured "
            f"in this run ({peaks['float32']:.0f} GFLOP/s float32, {peaks['bfloat16']:.0f} GFLOP/s bfloat16).",
            "",
        ]
    columns = ["implementation", "precision", "params", "train_examples_per_s", "inference_examples_per_s"]
    columns += ["train_gflops_per_s", "train_mfu", "inference_gflops_per_s", "inference_mfu"] \
        if "train_mfu" in graph else ["timed_train_steps", "timed_inference_steps"]
    lines += [markdown_table(rows, [c for c in columns if c in graph]), ""]
    if "family" in graph:  # results with settings beyond float32
        best = []
        for family in families:
            members = [r for r in rows if r.get("family", r["implementation"]) == family]
            fastest = {mode: max(members, key=lambda r: r[f"{mode}_examples_per_s"]) for mode in ("train", "inference")}
            best.append({"implementation": family,
                         **{f"best_{mode}_examples_per_s": fastest[mode][f"{mode}_examples_per_s"] for mode in fastest},
                         **{f"best_{mode}_setting": fastest[mode]["implementation"] for mode in fastest}})
        ours_best = best[0]
        for row in best[1:]:
            for mode in ("train", "inference"):
                row[f"perceiver_tf_best_over_this_{mode}"] = (ours_best[f"best_{mode}_examples_per_s"]
                                                              / row[f"best_{mode}_examples_per_s"])
        lines += ["Each implementation at its best setting (the fastest of its rows above, per mode):", "",
                  markdown_table(best, ["implementation", "best_train_examples_per_s", "best_train_setting",
                                        "best_inference_examples_per_s", "best_inference_setting",
                                        "perceiver_tf_best_over_this_train", "perceiver_tf_best_over_this_inference"]),
                  ""]
    if "train_cpu_share" in graph:
        shares = [min(r["train_cpu_share"], r["inference_cpu_share"]) for r in rows]
        lines += [
            "Load check (this 2-core machine is shared): `*_fastest_step` = examples/s of the fastest timed step, "
            "`*_cpu_share` = the lowest CPU share this process got during any of the row's measurements (CPU "
            "seconds per wall second per thread; 1 = both cores, 0.5 = one core's worth). With one busy-looping "
            "process beside them, PyTorch's OpenMP steps ran roughly 5-20x slower here and perceiver_tf's 1.5-3x, so "
            "under load the torch rows measure tolerance of a shared CPU as much as speed."
            + (f" In this run every row got at most {max(shares):.2f} in some measurement (about one core of the "
               "two): read its ratios, the torch rows' above all, as measured under load." if max(shares) < 0.75 else ""),
            "",
            markdown_table(rows, ["implementation", "train_examples_per_s_fastest_step",
                                  "inference_examples_per_s_fastest_step", "train_cpu_share", "inference_cpu_share"]),
            "",
        ]
    for r in float32_peers:
        lines.append(
            f"- float32, perceiver_tf's default tf.function vs {r['implementation']}: "
            f"{graph['train_examples_per_s'] / r['train_examples_per_s']:.2f}x training, "
            f"{graph['inference_examples_per_s'] / r['inference_examples_per_s']:.2f}x inference."
        )
    lines += ["", "Differences from perceiver_tf that the peers' options cannot remove:", ""]
    for r in float32_peers:
        lines.append(f"- {r['implementation']}:" + ("" if r.get("notes") else " not recorded (older results file)."))
        lines += [f"  - {note}" for note in r.get("notes", [])]
    lines += ["", "`build_classifier` overrides used: `" + json.dumps(peer["config"]["build_classifier_overrides"])
              + "`, `input_kind=\"array\"`.", ""]
    return lines


def throughput_section(data: dict) -> list[str]:
    lines = [
        "## Throughput and MFU (CPU)",
        "",
        f"`python -m benchmarks.bench_throughput` ({data['time_utc']}, {data['threads']} threads). "
        "MFU = counted matmul FLOPs (training = 3 x forward) / time / the 2048^3 `tf.matmul` peak measured "
        "just before and after each row (the larger; `matmul_peak_gflops`, bfloat16 for the bfloat16 rows). "
        "`train_first_step_s` includes tracing/compilation.",
        "",
        markdown_table(data["rows"], ["preset", "variant", "batch", "params", "train_examples_per_s",
                                      "inference_examples_per_s", "train_mfu", "inference_mfu",
                                      "matmul_peak_gflops", "forward_gflop_per_example", "train_first_step_s"]),
        "",
        "Presets measured in this run: " + ", ".join(sorted({r["preset"] for r in data["rows"]}))
        + (". The imagenet row (batch 1) did not finish in the time this shared 2-core machine allowed; "
           "rerun `python -m benchmarks.bench_throughput --resume benchmarks/results/throughput_rows.jsonl` "
           "to add it." if not any(r["preset"] == "imagenet" for r in data["rows"]) else "."),
        "",
        "### Speed-ups over the float32 tf.function graph (XLA: the default for fixed shapes; mixed precision, fused "
        "attention, eager)",
        "",
        markdown_table(data["speedups"], ["preset", "variant", "train_speedup_vs_graph", "inference_speedup_vs_graph"]),
        "",
        "### Input pipeline vs model step",
        "",
    ]
    pipe = data["input_pipeline"]
    lines += [
        f"tf.data (uint8 32x32x3 -> float, random flip, batch 32, prefetch): "
        f"{pipe['pipeline_examples_per_s']:.0f} examples/s vs the `small` training step's "
        f"{pipe['small_train_examples_per_s']:.1f} examples/s: the pipeline is "
        f"{pipe['pipeline_over_train_step']:.0f}x faster than the model, so it never starves training.",
        "",
        "### Retracing",
        "",
        f"Python executions of `train_step` (= tf.function traces) over 3 epochs with a ragged last batch: "
        f"{data['retracing']['train_traces_3_epochs_ragged_last_batch']}; of `predict_step` over 4 `predict` calls "
        f"with 4 batch sizes: {data['retracing']['predict_traces_4_calls_4_batch_sizes']} "
        "(one trace for the full batch, one relaxed-shape trace at the first different batch size, none after).",
        "",
    ]
    return lines


def scaling_section(data: dict) -> list[str]:
    config = data["config"]
    rows = data["rows"]
    lines = [
        "## Scaling with input size M: Perceiver O(M) vs dense Transformer O(M^2)",
        "",
        f"`python -m benchmarks.bench_scaling` ({data['time_utc']}). Batch 1 forward, float32, inputs M x "
        f"{config['channels']}; Perceiver = {config['num_latents']} latents x {config['width']}, 1 cross-attend + 1 "
        f"self-attend ({config['heads']} heads); dense = Dense({config['channels']}->{config['width']}) + one "
        f"{config['heads']}-head self-attention block over all M. One fresh process per point; "
        f"`forward_peak_mb` = peak RSS growth during the forward; a point passing {config['budget_mb']:.0f} MB RSS "
        "is killed (`over budget`).",
        "",
        markdown_table(rows, ["model", "M", "status", "time_s", "forward_peak_mb", "peak_rss_mb"]),
        "",
    ]
    for kind in ("perceiver", "dense"):
        points = [r for r in rows if r["model"] == kind and r["status"] == "ok" and r["M"] >= 4096]
        if len(points) >= 2:
            lines.append(
                f"- {kind}: log-log slope (M >= 4096) time {loglog_slope([(r['M'], r['time_s']) for r in points]):.2f}, "
                f"memory {loglog_slope([(r['M'], max(r['forward_peak_mb'], 1.0)) for r in points]):.2f}."
            )
    lines += ["", "![time and memory vs M](results/scaling.png)", "", "### Largest M that fits", ""]
    largest = data["largest_m_within_budget"]
    lines.append(
        f"Doubling M from 131,072 up to {data['search_max_m']:,} with the Perceiver above, within "
        f"{config['budget_mb']:.0f} MB RSS:"
    )
    lines.append("")
    for label, m in largest.items():
        lines.append(f"- {label}: " + (f"M = {m:,}" if m else "none of the tried sizes"))
    lines += ["", markdown_table(data["fit_search"], ["chunk", "M", "status", "time_s", "forward_peak_mb", "peak_rss_mb"]), ""]
    return lines


def training_memory_section(data: dict) -> list[str]:
    config, rows = data["config"], data["rows"]
    lines = [
        "## Training memory vs M: chunked cross-attention with a recomputing backward pass",
        "",
        f"`python -m benchmarks.bench_training_memory` ({data['time_utc']}). **Built classifiers**: "
        f"`build_classifier(\"tiny\", shape, 10, input_kind=..., num_latents={config['num_latents']}, "
        f"cross_attention_chunk_size={config['chunk']})` (2 cross-attends, each with its own input LayerNorm, the "
        f"kind's position features), inputs of M elements x {config['channels']} channels (an image is sqrt(M) x "
        "sqrt(M)), one `train_on_batch` step (SGD, batch 1, float32) in a fresh process; `chunk` none: the same "
        f"model without chunking. Budget {config['budget_mb']:.0f} MB of peak resident memory for the whole process "
        "(Python, TensorFlow, the model, the NumPy inputs).",
        "",
        markdown_table(data["classifier_rows"], ["case", "M", "chunk", "status", "step_s", "peak_rss_mb"]),
        "",
        "**The bare encoder** (the variants' mechanism):",
        "",
        "One SGD training step, batch 1, float32, "
        f"inputs M x {config['channels']}; `PerceiverEncoder` with {config['num_latents']} latents x {config['width']}, "
        f"1 cross-attend (1 head) + 1 self-attend ({config['heads']} heads), mean + Dense head. `explicit`: no chunking; "
        f"`chunked, stored`: chunks of {config['chunk']} with the loop differentiated automatically (every chunk's "
        "probabilities kept for the backward pass); `chunked, recomputed`: perceiver_tf's training path, whose "
        "backward pass recomputes each chunk. One fresh process per point; `peak_rss_mb` is the process's peak "
        f"resident memory, `step_peak_mb` its growth during the step; a point passing {config['budget_mb']:.0f} MB "
        "is killed (`over budget`). M up to the chunk size takes the explicit path in every variant.",
        "",
        markdown_table(rows, ["variant", "M", "status", "step_s", "step_peak_mb", "peak_rss_mb"]),
        "",
    ]
    for variant, largest in data["largest_m_within_budget"].items():
        points = [r for r in rows if r["variant"] == variant and r["status"] == "ok"]
        slope = loglog_slope([(r["M"], r["step_peak_mb"]) for r in points]) if len(points) >= 2 else float("nan")
        fits = f"M = {largest:,}" if largest else "none of the tried sizes"
        lines.append(f"- {variant}: largest M whose training step fits in {config['budget_mb']:.0f} MB: {fits} "
                     f"(tried up to {data['search_max_m']:,}); log-log slope of `step_peak_mb` vs M: {slope:.2f}.")
    return lines + ["", "![training memory and step time vs M](results/training_memory.png)", ""]


def shared_cross_attention_section(data: dict) -> list[str]:
    config = data["config"]
    return [
        "## A shared cross-attend projects its inputs once",
        "",
        f"`python -m benchmarks.bench_shared_cross_attention` ({data['time_utc']}, {config['threads']} threads). "
        "Presets whose encoder repeats one cross-attend (shared weights) over the same inputs, at their reference "
        f"input shape, batch {config['batch']}, {config['dtype']} graph: `once` computes the input LayerNorm and "
        "key/value projections on the first use and reuses them (perceiver_tf's path), `every_time` recomputes "
        f"them at each use (as before; TensorFlow's graph optimiser did not merge them). Best of {config['rounds']} "
        "interleaved rounds in one process.",
        "",
        markdown_table(data["rows"], ["preset", "input_shape", "shared_cross_attend_uses", "inference_every_time_s",
                                      "inference_once_s", "inference_speedup", "training_every_time_s",
                                      "training_once_s", "training_speedup", "max_abs_output_diff"]),
        "",
    ]


def defaults_section(data: dict) -> list[str]:
    rows = data["rows"]
    return [
        f"## Execution defaults on {data['backend']}/{data['device']}: XLA, mixed precision, fused attention",
        "",
        f"`python -m benchmarks.bench_defaults` ({data['time_utc']}, {data['threads']} threads, batch {data['batch']}). "
        "Per workload, every combination against the float32 tf.function graph (`*_speedup` above 1: faster). "
        f"`train_first_step_s` includes tracing and XLA compilation; `run_speedup` compares "
        f"first step + {data['run_steps'] - 1} steady steps (about the CLI demo's length); `mixed` rows run the "
        "`policy` column's dtype policy.",
        "",
        markdown_table(rows, ["preset", "input_shape", "variant", "policy", "train_step_ms", "train_speedup",
                              "inference_step_ms", "inference_speedup", "train_first_step_s", "run_speedup"]),
        "",
        "Fastest per workload:",
        "",
        markdown_table(data["fastest"], list(data["fastest"][0])),
        "",
    ]


def execution_label(row: dict) -> str:
    """What a time-to-accuracy run executed, from what it resolved to (not from its flags): "XLA" or
    "float32 graph", "+ mixed bfloat16" when asked."""
    label = "XLA" if row.get("jit_compile") else "float32 graph"
    return label + (" + mixed bfloat16" if "--mixed-precision" in row.get("flags", "") else "")


def time_to_accuracy_section(data: dict) -> list[str]:
    rows = [{**row, "executed": execution_label(row)} for row in data["rows"]]
    lines = [
        f"## Time to {data['target']} validation accuracy: the CLI demo",
        "",
        f"`python -m benchmarks.bench_time_to_accuracy` ({data['time_utc']}): `{data['command']}` (digits, the recipe "
        "below the table) in a fresh process per run, with the flags shown; `config` names the flags given (\"defaults\": "
        "none) and `executed` what the run resolved to (its log's first line), which for \"defaults\" is the default "
        "of the code that ran. `seconds_to_target` is `history.csv`'s `elapsed_seconds` (tracing, compilation and "
        "validation included) at the first epoch reaching the target.",
        "",
        markdown_table(rows, ["config", "flags", "executed", "seed", "status", "epoch_reaching_target",
                              "seconds_to_target", "train_seconds", "final_val_accuracy", "best_val_accuracy"]),
        "",
    ]
    lines += [f"- {line}" for line in dict.fromkeys(r.get("recipe_line", "") for r in rows) if line] + [""]
    executed = list(dict.fromkeys(r["executed"] for r in rows))
    base = "float32 graph" if "float32 graph" in executed else executed[0]
    for name in (e for e in executed if e != base):
        for seed in sorted({r["seed"] for r in rows}):
            pair = [next((r for r in rows if r["executed"] == e and r["seed"] == seed), {}) for e in (base, name)]
            if all(p.get("seconds_to_target") for p in pair):
                lines.append(f"- {name} vs {base}, seed {seed}: "
                             f"{pair[0]['seconds_to_target'] / pair[1]['seconds_to_target']:.2f}x as fast to the target.")
            elif pair[1]:
                lines.append(f"- {name}, seed {seed}: did not reach the target.")
    if (RESULTS_DIR / "time_to_accuracy.png").exists():
        lines += ["", "![validation accuracy over wall time](results/time_to_accuracy.png)"]
    return lines + [""]


def task_scores(row: dict) -> dict:
    """A tasks.json row with its `metric`, `test_score`, `val_score` and `baseline_test_score`; rows written
    before tasks named their metric hold accuracies (`test_accuracy`, `val_accuracy`, `baseline_test_accuracy`)."""
    if "metric" in row:
        return row
    return {**row, "metric": "accuracy", "test_score": row["test_accuracy"], "val_score": row["val_accuracy"],
            "baseline_test_score": row["baseline_test_accuracy"]}


def tasks_section(data: dict) -> list[str]:
    rows = [task_scores(row) for row in data["rows"]]
    lines = [
        "## Task suite: scores out of the box",
        "",
        f"`python -m benchmarks.bench_tasks` ({data['time_utc']}): `{data['command']}` on generated tasks (nothing "
        "downloaded), two variants (generator seeds) each: variant 0 is the draw the recipes were developed on, "
        "variant 1 a held-out draw. Scores are in each task's `metric`: accuracy, or for multi-label tasks the "
        "mean average precision over classes (mAP, `perceiver_tf.metrics`). `test_score` is measured on a "
        f"separate test folder from the same generator ({data['test_per_class']} per class; digits: the other 20% "
        "of scikit-learn's digits; sound mixtures: each class in about that many clips) with "
        "`perceiver-tf evaluate --split all`; `val_score` is the best epoch's on the CLI's own 20% split. "
        "`seconds_to_target_val` is history.csv's wall time at the first epoch whose validation accuracy (multi-label: "
        "Keras' PR-AUC, close to the mAP) reached the target. The baseline reads the same model inputs (the trained "
        "model's preprocessing), trains 60 epochs with Adam 1e-3 and no augmentation (multi-label: sigmoid outputs, "
        "binary cross-entropy), and is scored on the same test folder in the same metric.",
        "",
    ]
    lines += [f"- `{name}`: {description}" for name, description in data["descriptions"].items()]
    lines += [
        "",
        markdown_table(rows, ["task", "variant", "metric", "target", "test_score", "meets_target", "val_score",
                              "epochs", "train_seconds", "seconds_to_target_val", "train_examples_per_s", "num_train",
                              "baseline", "baseline_test_score", "baseline_train_seconds"]),
        "",
        "What the recipe chose per run (`metrics.json`'s `recipe`):",
        "",
    ]
    for row in rows:
        chosen = ", ".join(f"{flag} {value}" for flag, value in (row.get("recipe") or {}).get("flags", {}).items())
        lines.append(f"- {row['task']} variant {row['variant']}: {chosen}")
    return lines + [""]


def timeseries_section(data: dict) -> list[str]:
    """The real-data time-series table (`bench_timeseries`): developed and held-out data sets apart."""
    sources = list(dict.fromkeys(figure["source"] for row in data["rows"] for figure in row["published"].values()))
    rows = [{**row, "ours": row["test_accuracy"], "FCN": row["fcn_accuracy"], "ROCKET": row["rocket_accuracy"],
             "1-NN DTW": row.get("dtw_accuracy"), "DTW window": row["dtw_window"],
             **{f"published {method}": row["published"].get(method, {}).get("accuracy") for method in ("FCN", "1-NN DTW")},
             "n train/test": f"{row['num_train']}/{row['num_test']}", "majority": row["majority_test_accuracy"]}
            for row in data["rows"]]
    checked = [row for row in rows if row["DTW window"] == "full" and row["published 1-NN DTW"] is not None]
    agree = [row for row in checked if abs(row["1-NN DTW"] - row["published 1-NN DTW"]) < 1e-3]
    columns = ["dataset", "n train/test", "length", "channels", "classes", "majority", "ours", "FCN", "ROCKET", "1-NN DTW",
               "published FCN", "published 1-NN DTW", "train_seconds", "epochs", "fcn_epochs", "DTW window"]
    lines = [
        "## Real time series: UCR/UEA archive, official test splits",
        "",
        f"`python -m benchmarks.bench_timeseries` ({data['time_utc']}, git {data['git_head']}): `{data['command']}`"
        + (" (a `--quick` smoke run: not a result)" if data["quick"] else "")
        + ("" if data.get("complete", True) else " (cut short: the data sets it finished)") + ". Ours: `perceiver_tf.train` with only "
        "the data and output folder given (validation: a seeded 20% of the training file), scored on every test series "
        "by `perceiver_tf.evaluate`; `train_seconds` and `epochs` are its. In the same run on the same series (the whole "
        f"training file): ROCKET ({data['settings']['rocket_kernels']:,} kernels, ridge), 1-NN DTW_D (full window or a "
        "Sakoe-Chiba band of that many steps; skipped over its compute budget) and the FCN of Wang et al. 2017 "
        "(`fcn_epochs` from a compute budget, at most their 2,000). Accuracies on the test split (`majority`: always "
        "predicting the test split's most common class); `-`: not run or "
        "no verified published figure. Published figures: " + "; ".join(sources) + f". Our full-window 1-NN DTW "
        f"equals the published one (to 0.001) on {len(agree)} of the {len(checked)} data sets that have both.",
        "",
    ]
    for group in ("developed", "held-out", "given"):
        chosen = [row for row in rows if row["group"] == group]
        if chosen:
            lines += [f"**{group}** data sets" + (" (never used to tune a recipe)" if group == "held-out" else "") + ":",
                      "", markdown_table(chosen, columns), ""]
    lines += ["What the recipe chose per data set (`metrics.json`'s `recipe`):", ""]
    for row in data["rows"]:
        chosen = ", ".join(f"{flag} {value}" for flag, value in (row.get("recipe") or {}).get("flags", {}).items())
        lines.append(f"- {row['dataset']}: {chosen}")
    return lines + [""]


def gpu_section(data: dict | None) -> list[str]:
    lines = ["## GPU (Keras JAX backend)", ""]
    if data is None:
        return lines + [
            "Not measured: `benchmarks/bench_gpu_jax.py` is ready (checked on CPU JAX with `--smoke`), but no device "
            "machine was lent to the session that produced this report.",
            "",
        ]
    peaks = data["matmul_peak_flops"]
    return lines + [
        f"`KERAS_BACKEND=jax python -m benchmarks.bench_gpu_jax` on {data['device']} (jax {data['jax']}). Matmul peak "
        f"in the same run: float32 {peaks['float32'] / 1e12:.0f} TFLOP/s, bfloat16 {peaks['bfloat16'] / 1e12:.0f} TFLOP/s.",
        "",
        markdown_table(data["rows"], ["workload", "policy", "fused_attention", "batch", "train_step_s",
                                      "inference_step_s", "train_mfu", "inference_mfu", "train_compile_s"]),
        "",
    ]


def backends_section(data: dict) -> list[str]:
    return [
        "## Keras backends: TensorFlow vs JAX",
        "",
        f"`python -m benchmarks.bench_backends`: the same digits-shaped model (8x8x1, 10 classes, batch "
        f"{data['batch']}) on each backend in its own process, one after the other, with perceiver_tf's defaults "
        "(jit_compile off under TensorFlow, on under JAX) and JAX without XLA for comparison. `*_vs_tf`: "
        "TensorFlow's step time over this row's (above 1: faster than TensorFlow).",
        "",
        markdown_table(data["rows"], ["backend", "preset", "jit_compile", "train_step_ms", "train_step_vs_tf",
                                      "fit_examples_per_s", "inference_step_ms", "inference_step_vs_tf",
                                      "predict_examples_per_s"]),
        "",
    ]


def export_section(data: dict) -> list[str]:
    env = data["environment"]
    interpreters = list(data["tflite"][0]["top1_agreement_by_interpreter"])
    rows = []
    for row in data["tflite"]:
        label = row["quantize"] + (" (every op quantised)" if row["quantize"] == "int8" and not row["int8_float_ops"]
                                   else "")
        rows.append({"export": label, "bytes": row["bytes"], "latency_ms": round(row["latency_ms"]["median"], 2),
                     "accuracy": round(row["accuracy"], 4),
                     **{f"agreement: {name}": round(row["top1_agreement_by_interpreter"][name], 4)
                        for name in interpreters}})
    return [
        "## Deployment: TFLite exports of the demo model",
        "",
        f"`python benchmarks/export_benchmark.py` ({env['date']}; TensorFlow {env['tensorflow']}, default "
        f"interpreter {env.get('tflite_default_interpreter', 'tf.lite')}): the `{data['preset']}` model "
        f"({data['params']:,} parameters, Keras accuracy {data['keras_accuracy']:.4f}) on the "
        f"{data['held_out_examples']} held-out digits. Agreement: the share of examples whose top-1 class equals "
        "Keras'; `default` is the interpreter `tflite_interpreter` picks (LiteRT where installed). int8 keeps "
        "the attention's softmax and batch matmuls float (`INT8_FLOAT_OPS`); the last row quantises every op.",
        "",
        markdown_table(rows, ["export", "bytes", "latency_ms", "accuracy",
                              *[f"agreement: {name}" for name in interpreters]]),
        "",
    ]


def machines_section() -> list[str]:
    """Which CPU each results file was measured on (results written before files recorded it: "not recorded")."""
    rows = []
    for path in sorted(RESULTS_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        environment = data.get("environment", {})  # export_benchmark.py's own record
        rows.append({"results": path.name, "measured": data.get("time_utc", environment.get("date", "-")),
                     "cpu": data.get("machine", {}).get("cpu_model", "not recorded")})
    return ["Where each results file was measured (absolute times differ between CPUs):", "",
            markdown_table(rows, ["results", "measured", "cpu"]), ""]


def main() -> None:
    lines = [
        "# perceiver_tf benchmarks",
        "",
        "Generated by `python -m benchmarks.make_report` from `benchmarks/results/*.json`; do not edit by hand. "
        "The CPU numbers come from a 2-core machine shared with other jobs: compare ratios within one run, "
        "not absolute numbers across runs.",
        "",
        *machines_section(),
    ]
    for name, section in (("peer", peer_section), ("throughput", throughput_section), ("scaling", scaling_section),
                          ("training_memory", training_memory_section),
                          ("shared_cross_attention", shared_cross_attention_section),
                          ("defaults_tensorflow_cpu", defaults_section),
                          ("time_to_accuracy", time_to_accuracy_section), ("tasks", tasks_section),
                          ("timeseries", timeseries_section),
                          ("backends", backends_section), ("export", export_section)):
        data = load(name)
        lines += section(data) if data else [f"## {name}", "", f"Not run: results/{name}.json is missing.", ""]
    lines += gpu_section(load("gpu_jax"))
    REPORT.write_text("\n".join(lines))
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
