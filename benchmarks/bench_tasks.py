"""Task suite: `perceiver-tf train` with its defaults on generated tasks of every modality, each
against a simple baseline built here, on two variants (generator seeds) per task.

For each task and variant: a generator writes a training folder and a test folder (a separate
draw of the same generator: the recipe never sees it); `perceiver-tf train --data TRAIN` runs with
the CLI defaults (plus the task's own flags, e.g. `--permute-pixels`) in a fresh process; its
`model.keras` is scored on the test folder with `perceiver-tf evaluate --split all`. The baseline
(a small CNN or a PointNet-like MLP + max-pool, by modality) reads the same model inputs (the
trained model's preprocessing), trains with Adam for a fixed number of epochs and is scored on the
same test folder. Nothing is downloaded; the recipes never see class or file names.

Each task names its metric (`METRICS`): accuracy for single-label tasks, mean average precision
(`perceiver_tf.metrics`) for multi-label ones; a row records it as `metric`, `test_score`, `val_score`
and `baseline_test_score`.

    python -m benchmarks.bench_tasks [--tasks NAME ...] [--variants 0 1]

Writes benchmarks/results/tasks.json (`python -m benchmarks.make_report` makes the table).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from benchmarks.common import REPO, RESULTS_DIR, markdown_table, write_results
from benchmarks.sound_mixtures import MANIFEST, write_mixtures

#: Test examples per class that each generator writes (besides its training folder).
TEST_PER_CLASS = 40
#: Seed offset of a variant's test folder (a separate draw of the same generator).
TEST_SEED_OFFSET = 1000


@dataclass(frozen=True)
class Metric:
    """Where a task's score is read: `perceiver-tf evaluate`'s JSON key, metrics.json's key for the
    validation score, history.csv's validation column (the per-epoch score), and `score(labels, logits)`
    for the baseline (labels: `(n,)` class ids or `(n, classes)` multi-hot rows; logits `(n, classes)`)."""

    evaluate_key: str
    metrics_key: str
    history_column: str
    score: Callable[[np.ndarray, np.ndarray], float]


def accuracy(labels: np.ndarray, logits: np.ndarray) -> float:
    """The fraction of `(n,)` class ids that are the `(n, classes)` logits' top class."""
    return float(np.mean(np.argmax(logits, axis=-1) == labels))


def mean_average_precision(labels: np.ndarray, logits: np.ndarray) -> float:
    """`perceiver_tf.metrics.mean_average_precision` of `(n, classes)` multi-hot labels and logits, imported
    when first used (importing perceiver_tf loads TensorFlow)."""
    from perceiver_tf.metrics import mean_average_precision as library_map

    return library_map(labels, logits)


#: The metrics tasks name. Multi-label history.csv holds Keras' PR-AUC per epoch, not the exact mAP
#: (metrics.json and `evaluate` give that): close to it, it times the target.
METRICS = {
    "accuracy": Metric("accuracy", "val_accuracy", "val_accuracy", accuracy),
    "mAP": Metric("map", "val_map", "val_pr_auc", mean_average_precision),
}


@dataclass(frozen=True)
class Task:
    """One suite task: `write(root, seed, per_class)` writes a data set into `root`: a class-folder one,
    or (`data_file`) one that `--data root/data_file` names, e.g. a multi-label manifest. `target` is
    in units of `metric` (a `METRICS` key)."""

    name: str
    description: str
    target: float
    write: Callable[[str, int, int], None]
    train_per_class: int
    baseline: str
    flags: Callable[[int], list[str]] = field(default=lambda variant: [])
    metric: str = "accuracy"
    data_file: str | None = None

    def data(self, root: str) -> str:
        """What `--data` names for the data set written into `root`."""
        return os.path.join(root, self.data_file) if self.data_file else root


def write_shapes(root: str, seed: int, per_class: int) -> None:
    from perceiver_tf.testing.synthetic import write_rotated_shapes_folder

    write_rotated_shapes_folder(root, per_class=per_class, seed=seed)


def write_sensors(root: str, seed: int, per_class: int) -> None:
    from perceiver_tf.testing.synthetic import write_sensor_folder

    write_sensor_folder(root, per_class=per_class, steps=(96, 128), seed=seed)


def write_frequencies(root: str, seed: int, per_class: int) -> None:
    from perceiver_tf.testing.synthetic import write_frequency_folder

    write_frequency_folder(root, per_class=per_class, seed=seed)


def write_digit_images(root: str, seed: int, per_class: int) -> None:
    """scikit-learn's 8x8 digits upsampled to 24x24 PNGs; the variant's seed splits the 1,797 digits
    into a training and a test half (`per_class` is ignored: the split sizes are fixed)."""
    import tensorflow as tf
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed % TEST_SEED_OFFSET).permutation(len(digits.target))
    cut = int(0.8 * len(order))
    chosen = order[cut:] if seed >= TEST_SEED_OFFSET else order[:cut]
    images = tf.image.resize(digits.images[chosen, :, :, None] / 16.0, (24, 24), method="bicubic")
    pixels = tf.cast(tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0), tf.uint8).numpy()
    for index, (image, label) in enumerate(zip(pixels, digits.target[chosen])):
        folder = os.path.join(root, str(label))
        os.makedirs(folder, exist_ok=True)
        tf.io.write_file(os.path.join(folder, f"{index:04d}.png"), tf.io.encode_png(image))


def write_spoken_words(root: str, seed: int, per_class: int) -> None:
    """Synthesised words (`benchmarks.speech_synth`): training and validation folders of disjoint voices,
    or (test seeds) a folder of further voices (`per_class` is ignored: voices x takes fix the sizes)."""
    from benchmarks.speech_synth import write_speech_task

    write_speech_task(root, seed, test=seed >= TEST_SEED_OFFSET)


TASKS = {
    task.name: task
    for task in (
        Task("rotated_shapes", "6 solids, any 3-D rotation, per-axis scale, shift, 100-1000 points, mixed formats",
             0.93, write_shapes, 40, "pointnet"),
        Task("sensor_activities", "simulated accelerometer, 4 activities, 6 channels, 96-128 steps, CSV + .npy",
             0.90, write_sensors, 40, "cnn1d"),
        Task("sensor_frequencies", "frequency-coded recordings: noisy sinusoids of 1 / 2.5 / 4 Hz at 25 Hz, 6 channels "
             "of random phase and amplitude, 90-130 steps, CSV; 30 per class (72 training recordings)",
             0.95, write_frequencies, 30, "cnn1d"),
        Task("spoken_words", "8 synthesised words, 12 training voices, validation and test on other voices, "
             "1 s WAV at 16 kHz", 0.95, write_spoken_words, 0, "cnn1d"),
        Task("digits_24", "scikit-learn digits as 24x24 PNGs", 0.96, write_digit_images, 0, "cnn2d"),
        Task("digits_24_permuted", "the same under one fixed pixel permutation (--permute-pixels; position "
             "features travel with the pixels, as in the paper)", 0.96,
             write_digit_images, 0, "cnn2d", lambda variant: ["--permute-pixels", str(variant)]),
        Task("multilabel_sounds", "multi-label: 1-3 of 8 sound events (4 synthesised words by random voices, a "
             "tone, a sweep, clicks, band noise) overlapping at random offsets and gains (-15 to 0 dB) over coloured "
             "noise, 1 s WAV at 16 kHz, a CSV manifest: 400 training clips (each class in ~100), scored in mAP",
             0.90, write_mixtures, 100, "cnn1d", metric="mAP", data_file=MANIFEST),
    )
}


def cli(*args: str) -> subprocess.CompletedProcess:
    """`perceiver-tf ARGS` in a fresh process (TensorFlow's noise silenced), failing loudly."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    finished = subprocess.run([sys.executable, "-m", "perceiver_tf.cli", *args], capture_output=True, text=True,
                              cwd=REPO, env=env)
    if finished.returncode:
        raise RuntimeError(f"perceiver-tf {' '.join(args)} failed:\n{finished.stderr[-3000:]}")
    return finished


def run_perceiver(task: Task, variant: int, train_data: str, test_data: str, out: str) -> dict:
    """Train with the CLI defaults, read its files, score it on the test data in the task's metric."""
    metric = METRICS[task.metric]
    start = time.perf_counter()
    trained = cli("train", "--data", train_data, "--seed", str(variant), "--output-dir", out, "--no-tensorboard",
                  "--verbose", "2", *task.flags(variant))
    wall = time.perf_counter() - start
    lines = trained.stdout.splitlines()
    num_train = int(re.search(r"(\d+) train / (\d+) validation", lines[0]).group(1))
    recipe = next((line for line in lines if line.startswith("Recipe")), "")
    metrics = json.loads(open(os.path.join(out, "metrics.json")).read())
    with open(os.path.join(out, "history.csv")) as f:
        history = list(csv.DictReader(f))
    reached = next((row for row in history if float(row[metric.history_column]) >= task.target), None)
    test = json.loads(cli("evaluate", "--model", os.path.join(out, "model.keras"), "--data", test_data,
                          "--split", "all").stdout.splitlines()[-1])
    return {
        "metric": task.metric,
        "test_score": test[metric.evaluate_key],
        "test_examples": test["examples"],
        "val_score": metrics[metric.metrics_key],
        "epochs": metrics["epochs"],
        "train_seconds": metrics["train_seconds"],
        "process_wall_s": round(wall, 1),
        "seconds_to_target_val": float(reached["elapsed_seconds"]) if reached else None,
        "train_examples_per_s": round(num_train * metrics["epochs"] / metrics["train_seconds"], 1),
        "num_train": num_train,
        "recipe": metrics.get("recipe"),
        "recipe_line": recipe,
        "first_line": lines[0],
    }


def baseline_model(kind: str, input_shape: tuple, num_classes: int):
    """A PointNet-like MLP + max-pool, a 1-D CNN (sequences) or a small 2-D CNN (images)."""
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    if kind == "pointnet":
        x = inputs
        for width in (64, 128, 256):
            x = layers.Dense(width, activation="relu")(x)
        x = layers.GlobalMaxPooling1D()(x)
    elif kind == "cnn1d":
        x = inputs
        for width in (32, 64, 64):
            x = layers.MaxPooling1D(2)(layers.Conv1D(width, 5, padding="same", activation="relu")(x))
        x = layers.GlobalAveragePooling1D()(x)
    elif kind == "cnn2d":
        x = inputs
        for width in (32, 64):
            x = layers.MaxPooling2D(2)(layers.Conv2D(width, 3, padding="same", activation="relu")(x))
        x = layers.Flatten()(x)
    else:
        raise ValueError(f"Unknown baseline {kind!r}")
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))


def labels_and_logits(model, data) -> tuple[np.ndarray, np.ndarray]:
    """`(labels, logits)` of `model` over batches of `(inputs, labels)`, concatenated along the examples."""
    pairs = [(np.asarray(y), np.asarray(model(x, training=False))) for x, y in data]
    return np.concatenate([y for y, _ in pairs]), np.concatenate([logits for _, logits in pairs])


def run_baseline(task: Task, train_data: str, test_data: str, model_file: str, seed: int, epochs: int = 60) -> dict:
    """The task's baseline on the Perceiver model's inputs (its saved preprocessing), Adam 1e-3,
    `epochs` epochs, scored on the test data in the task's metric. Multi-label data: independent
    sigmoid outputs (binary cross-entropy on the multi-hot labels)."""
    import keras

    from perceiver_tf.data import DataOptions, PipelineOptions, batched, load_source
    from perceiver_tf.data.model_inputs import processor_of
    from perceiver_tf.workflows.model_files import load_trained_model

    model, metadata = load_trained_model(model_file)
    processor = processor_of(model)
    keras.utils.set_random_seed(seed)
    multi_label = bool(metadata.get("multi_label"))
    options = DataOptions(modality=processor.modality, processor=processor, seed=seed, multi_label=multi_label)
    train = load_source(train_data, options).relabel(metadata["class_names"])
    test = load_source(test_data, options).relabel(metadata["class_names"])
    classes = len(metadata["class_names"])
    pipeline = PipelineOptions(64, seed)
    # The baselines read the recording alone: a sensor model's step mask is left out (its padding is zeros).
    unmasked = lambda x, y: (x["inputs"] if isinstance(x, dict) and "input_mask" in x else x, y)  # noqa: E731
    train_batches = batched(train.train, processor, False, classes, pipeline).map(unmasked)
    test_batches = batched(test.train.concatenate(test.val), processor, False, classes, pipeline).map(unmasked)
    model = baseline_model(task.baseline, processor.input_shape, classes)
    loss = (keras.losses.BinaryCrossentropy(from_logits=True) if multi_label
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.compile(keras.optimizers.Adam(1e-3), loss)
    start = time.perf_counter()
    model.fit(train_batches.shuffle(64, seed=seed), epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    score = METRICS[task.metric].score(*labels_and_logits(model, test_batches))
    return {"baseline": task.baseline, "baseline_test_score": score, "baseline_train_seconds": round(seconds, 1),
            "baseline_params": model.count_params()}


def run_task(task: Task, variant: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        train_dir, test_dir, out = (os.path.join(tmp, name) for name in ("train", "test", "out"))
        task.write(train_dir, variant, task.train_per_class)
        task.write(test_dir, variant + TEST_SEED_OFFSET, TEST_PER_CLASS)
        train_data, test_data = task.data(train_dir), task.data(test_dir)
        row = {"task": task.name, "variant": variant, "target": task.target,
               "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               **run_perceiver(task, variant, train_data, test_data, out)}
        row.update(run_baseline(task, train_data, test_data, os.path.join(out, "model.keras"), variant))
    row["meets_target"] = row["test_score"] >= task.target
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--variants", nargs="+", type=int, default=[0, 1],
                        help="generator seeds (0: the variant the recipes were developed on; others held out)")
    args = parser.parse_args()
    rows = []
    for name in args.tasks:
        for variant in args.variants:
            print(f"{name} variant {variant} ...", flush=True)
            rows.append(run_task(TASKS[name], variant))
            print(json.dumps({k: v for k, v in rows[-1].items() if k not in ("recipe", "first_line")}), flush=True)
    print(markdown_table(rows, ["task", "variant", "metric", "test_score", "val_score", "target", "train_seconds",
                                "train_examples_per_s", "baseline_test_score"]))
    # A run of some tasks replaces their rows and keeps the other tasks' rows of an earlier run.
    earlier = RESULTS_DIR / "tasks.json"
    kept = [row for row in (json.loads(earlier.read_text())["rows"] if earlier.exists() else [])
            if row["task"] not in args.tasks and row["task"] in TASKS]
    rows = sorted(kept + rows, key=lambda row: (list(TASKS).index(row["task"]), row["variant"]))
    descriptions = {name: TASKS[name].description for name in dict.fromkeys(row["task"] for row in rows)}
    write_results("tasks", {"command": "perceiver-tf train --data TRAIN (defaults)", "descriptions": descriptions,
                            "test_per_class": TEST_PER_CLASS, "rows": rows})


if __name__ == "__main__":
    main()
