"""Wall time to a target validation accuracy of the CLI demo, with perceiver_tf's defaults vs named options.

Runs `perceiver-tf train` (the README's main job: the built-in digits, with the recipe's preset,
epochs and augmentation) in a fresh process per run and reads `history.csv`: the first epoch whose
`val_accuracy` reaches the target, and its `elapsed_seconds` (wall time from the start of
training, tracing/compilation and validation included). Each configuration runs with seeds
0 and 1 (one seed is not evidence); a plot shows validation accuracy against wall time. `defaults` is the command exactly as the README gives it;
the other configurations add flags (e.g. the options that were the defaults before).

    python -m benchmarks.bench_time_to_accuracy [--target 0.94] [--seeds 0 1] [--configs NAME ...]
"""

from __future__ import annotations

import argparse
import csv
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, RESULTS_DIR, markdown_table, write_results

#: name -> extra `perceiver-tf train` flags. "defaults" is the README's command as it is (each
#: row's `jit_compile` records what the run's log says it resolved to).
CONFIGS = {
    "defaults": "",
    "graph": "--no-jit-compile",
    "XLA": "--jit-compile",
    "XLA + mixed precision": "--jit-compile --mixed-precision",
}


def run(flags: str, seed: int, target: float) -> dict:
    """One `perceiver-tf train` run in a fresh process and output folder."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "perceiver_tf.cli", "train", "--seed", str(seed), "--output-dir", out,
                   "--no-tensorboard", "--verbose", "2", *shlex.split(flags)]
        start = time.perf_counter()
        finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if finished.returncode != 0:
            return {"status": f"failed: {finished.stderr.strip().splitlines()[-1]}"}
        with open(Path(out) / "history.csv") as f:
            history = list(csv.DictReader(f))
    reached = next((row for row in history if float(row["val_accuracy"]) >= target), None)
    return {
        "status": "ok",
        "first_line": finished.stdout.splitlines()[0],
        "recipe_line": next((line for line in finished.stdout.splitlines() if line.startswith("Recipe")), ""),
        "jit_compile": "jit_compile True" in finished.stdout.splitlines()[0],
        "epochs": len(history),
        "final_val_accuracy": float(history[-1]["val_accuracy"]),
        "best_val_accuracy": max(float(row["val_accuracy"]) for row in history),
        "epoch_reaching_target": int(reached["epoch"]) + 1 if reached else None,
        "seconds_to_target": float(reached["elapsed_seconds"]) if reached else None,
        "train_seconds": float(history[-1]["elapsed_seconds"]),
        "process_wall_s": wall,
        "elapsed_seconds_per_epoch": [float(row["elapsed_seconds"]) for row in history],
        "val_accuracy_per_epoch": [float(row["val_accuracy"]) for row in history],
    }


def plot(rows: list[dict], target: float, path) -> None:
    """Validation accuracy against wall time, one line per run (colour: configuration, style: seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.8))
    configs = list(dict.fromkeys(r["config"] for r in rows))
    seeds = sorted({r["seed"] for r in rows})
    for row in rows:
        if row["status"] != "ok":
            continue
        color = f"C{configs.index(row['config'])}"
        style = ("-", "--", ":", "-.")[seeds.index(row["seed"]) % 4]
        ax.plot(row["elapsed_seconds_per_epoch"], row["val_accuracy_per_epoch"], style, color=color, marker=".",
                label=f"{row['config']} ({'XLA' if row['jit_compile'] else 'graph'}), seed {row['seed']}")
    ax.axhline(target, color="k", linewidth=0.8, linestyle=":", label=f"target {target}")
    ax.set_ylim(max(0.0, target - 0.25), 1.0)
    ax.set_xlabel("wall time since training began (s; tracing, compilation and validation included)")
    ax.set_ylabel("validation accuracy")
    ax.set_title("perceiver-tf train (digits): validation accuracy over time")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.94, help="validation accuracy to reach")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS),
                        help="the configurations to run (default: all)")
    args = parser.parse_args()
    configs = {name: CONFIGS[name] for name in args.configs}
    rows = []
    for seed in args.seeds:  # seeds outermost: machine load drifts, so configurations alternate
        for name, flags in configs.items():
            row = {"config": name, "flags": flags, "seed": seed, **run(flags, seed, args.target)}
            rows.append(row)
            print(row, flush=True)
    print(markdown_table(rows, ["config", "seed", "status", "epoch_reaching_target", "seconds_to_target",
                                "train_seconds", "final_val_accuracy", "best_val_accuracy"]))
    plot(rows, args.target, RESULTS_DIR / "time_to_accuracy.png")
    write_results("time_to_accuracy", {"target": args.target, "command": "perceiver-tf train", "rows": rows})


if __name__ == "__main__":
    main()
