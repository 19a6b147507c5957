"""Sequence tokens on frequency-coded recordings: the recipe's default tokens against per-step tokens.

Noisy sinusoids of 1 / 2.5 / 4 Hz (`perceiver_tf.testing.synthetic.write_frequency_folder`: 6 channels at
25 Hz, 90-130 steps, random phase and amplitude per channel, CSV files), 30 per class: 72 training and 18
validation recordings, as in issue 33. Each seed trains `perceiver_tf.train` with the recipe's defaults
(plus `--sequence-tokens steps` for the per-step row, the tokens every sensor model had before) and scores
the model on its validation split and on 300 further recordings of the same generator (test seed + 1000).

    python -m benchmarks.bench_sequence_tokens [--seeds 0 1]

Writes benchmarks/results/sequence_tokens.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import configure_tensorflow, markdown_table, write_results

#: Rows: label -> the options given to `perceiver_tf.train` (the rest is the recipe's).
VARIANTS = {"per-step tokens": {"sequence_tokens": "steps"}, "defaults": {}}
#: Recordings per class of the training folder and of the separate test folder.
TRAIN_PER_CLASS, TEST_PER_CLASS = 30, 100


def run(seed: int, label: str, options: dict, folder: Path) -> dict:
    """One training run on `folder`'s seed-`seed` data: validation and test accuracy, seconds, recipe flags."""
    import perceiver_tf as pt
    from perceiver_tf.testing.synthetic import write_frequency_folder

    train_dir, test_dir = folder / f"train{seed}", folder / f"test{seed}"
    if not train_dir.exists():
        write_frequency_folder(str(train_dir), per_class=TRAIN_PER_CLASS, seed=seed)
        write_frequency_folder(str(test_dir), per_class=TEST_PER_CLASS, seed=seed + 1000)
    start = time.perf_counter()
    result = pt.train(str(train_dir), folder / f"run{seed}_{label.replace(' ', '_')}", seed=seed, verbose=0,
                      no_tensorboard=True, **options)
    seconds = time.perf_counter() - start
    test = pt.evaluate(result.model, str(test_dir), split="all")
    flags = result.recipe["flags"]
    return {"seed": seed, "variant": label, "val_accuracy": result.metrics["val_accuracy"],
            "test_accuracy": test["accuracy"], "train_seconds": round(result.metrics["train_seconds"], 1),
            "run_seconds": round(seconds, 1), "tokens": flags["--sequence-tokens"],
            "patch_size": flags.get("--sequence-patch-size"), "epochs": flags["--epochs"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args(argv)
    configure_tensorflow(None)
    with tempfile.TemporaryDirectory() as folder:
        rows = [run(seed, label, options, Path(folder)) for seed in args.seeds for label, options in VARIANTS.items()]
    print(markdown_table(rows, ["seed", "variant", "tokens", "patch_size", "val_accuracy", "test_accuracy",
                                "train_seconds", "epochs"]))
    print(f"wrote {write_results('sequence_tokens', {'rows': rows})}")


if __name__ == "__main__":
    main()
