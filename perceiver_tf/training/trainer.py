"""Compile, fit, evaluate and save a classifier, fault-tolerantly and with atomic result files."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras

from perceiver_tf.training.callbacks import (
    AtomicBackupAndRestore,
    BestModelCheckpoint,
    ResumableCSVLogger,
    replace_atomically,
    write_json_atomic,
)
from perceiver_tf.training.keras_compat import multi_worker_fixes
from perceiver_tf.training.optimizers import make_optimizer

#: Files and folders `train_classifier` writes inside `output_dir`.
MODEL_FILE, BEST_FILE, HISTORY_FILE, METRICS_FILE = "model.keras", "best.keras", "history.csv", "metrics.json"
BACKUP_DIR, LOG_DIR, WORKERS_DIR = "backup", "logs", ".workers"


@dataclass
class TrainResult:
    """What `train_classifier` produced (also written to `metrics.json`).

    `epochs` counts the completed epochs of the whole run (rows of history.csv), including those
    done before a resume; `resumed_from_epoch` is the epoch this process started at (0: fresh);
    `train_seconds` is this process's fit time.
    """

    val_accuracy: float | None
    val_loss: float
    epochs: int
    train_seconds: float
    num_classes: int
    model_path: str
    resumed_from_epoch: int = 0
    #: Multi-label models: mean average precision over the validation set (accuracy is `None`).
    val_map: float | None = None


def validation_metric(model: keras.Model) -> str:
    """The metric that picks the best epoch: "accuracy", or "pr_auc" for multi-label classifiers."""
    return "pr_auc" if getattr(model, "multi_label", False) else "accuracy"


def compile_classifier(
    model: keras.Model,
    total_steps: int,
    optimizer: str = "lamb",
    learning_rate: float = 4e-3,
    warmup_steps: int = 0,
    weight_decay: float = 0.1,
    global_clipnorm: float | None = 10.0,
    label_smoothing: float = 0.0,
    jit_compile: bool | str = False,
    one_hot_labels: bool | None = None,
) -> keras.Model:
    """Compile a classifier with the paper's recipe.

    Single-label: labels are class ids, or one-hot/soft rows when `one_hot_labels` (default:
    when `label_smoothing` > 0; needed for MixUp/CutMix targets too); the metric is "accuracy".
    Multi-label (`model.multi_label`): multi-hot labels, binary cross-entropy, and "pr_auc"
    (the area under the precision-recall curve, per class, averaged: close to mAP).
    """
    from_logits = getattr(model, "activation", None) is None
    if getattr(model, "multi_label", False):
        loss = keras.losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing)
        metric = keras.metrics.AUC(curve="PR", multi_label=True, from_logits=from_logits, name="pr_auc")
    else:
        one_hot_labels = bool(label_smoothing) if one_hot_labels is None else one_hot_labels
        if label_smoothing and not one_hot_labels:
            raise ValueError("`label_smoothing` needs one-hot labels: pass one_hot_labels=True.")
        loss = (
            keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing)
            if one_hot_labels
            else keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        )
        metric = (keras.metrics.CategoricalAccuracy(name="accuracy") if one_hot_labels
                  else keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate, total_steps, warmup_steps, weight_decay, global_clipnorm),
        loss=loss,
        metrics=[metric],
        jit_compile=jit_compile,
    )
    return model


def validation_map(model: keras.Model, validation_data) -> float:
    """Exact mean average precision (`perceiver_tf.metrics`) of a multi-label model on batches of `(x, y)`."""
    import numpy as np

    from perceiver_tf.metrics import mean_average_precision

    scores, labels = [], []
    for x, y in validation_data:
        scores.append(np.asarray(model(x, training=False)))
        labels.append(np.asarray(y))
    return mean_average_precision(np.concatenate(labels), np.concatenate(scores))


def train_classifier(
    model: keras.Model,
    train_data,
    validation_data,
    epochs: int,
    output_dir: str | os.PathLike,
    verbose: int | str = "auto",
    is_chief: bool = True,
    worker_id: int = 0,
    tensorboard: bool = True,
) -> TrainResult:
    """Fit a compiled classifier, evaluate it, and save its files in `output_dir`.

    Writes (atomically) `model.keras` (final), `best.keras` (best val accuracy), `history.csv`
    (one row per epoch), `metrics.json`, and TensorBoard logs under `logs/`. A backup in
    `backup/` is kept during training: re-running the same call after a crash (even SIGKILL)
    resumes from the last completed epoch and still trains `epochs` epochs in total; the
    backup is removed when training finishes.

    Args:
        model: a compiled classifier (build and compile it inside the strategy's scope).
        train_data / validation_data: `tf.data.Dataset`s of `(inputs, labels)` batches.
        epochs: total number of epochs.
        output_dir: created if missing.
        is_chief / worker_id: under multi-worker training only the chief writes `output_dir`;
            worker `i` works in `output_dir/.workers/worker-i` (removed at the end).
    """
    output_dir = Path(output_dir)
    work_dir = output_dir if is_chief else output_dir / WORKERS_DIR / f"worker-{worker_id}"
    work_dir.mkdir(parents=True, exist_ok=True)
    backup_dir = work_dir / BACKUP_DIR
    if not backup_dir.exists():  # a fresh run: forget the previous run's best score
        (work_dir / f"{BEST_FILE}.json").unlink(missing_ok=True)
    callbacks = [
        AtomicBackupAndRestore(str(backup_dir)),
        ResumableCSVLogger(work_dir / HISTORY_FILE),
        BestModelCheckpoint(work_dir / BEST_FILE, monitor="val_" + validation_metric(model)),
    ]
    if tensorboard and is_chief:
        callbacks.append(keras.callbacks.TensorBoard(str(output_dir / LOG_DIR), write_graph=False, profile_batch=0))
    with multi_worker_fixes(model, train_data):
        start = time.perf_counter()
        # The tf.data pipeline shuffles; Keras' default shuffle=True would only warn about it.
        history = model.fit(train_data, validation_data=validation_data, epochs=epochs, callbacks=callbacks,
                            verbose=verbose, shuffle=False)
        train_seconds = time.perf_counter() - start
        logs = model.evaluate(validation_data, verbose=0, return_dict=True)
    resumed_from = min(history.epoch) if history.epoch else epochs
    with open(work_dir / HISTORY_FILE) as f:
        completed = sum(1 for _ in csv.DictReader(f))
    model_path = work_dir / MODEL_FILE
    replace_atomically(model_path, lambda tmp: model.save(str(tmp)))
    result = TrainResult(
        val_accuracy=float(logs["accuracy"]) if "accuracy" in logs else None,
        val_loss=float(logs["loss"]),
        epochs=completed,
        train_seconds=round(train_seconds, 2),
        num_classes=int(model.output_shape[-1]),
        model_path=str(model_path),
        resumed_from_epoch=int(resumed_from),
        val_map=validation_map(model, validation_data) if getattr(model, "multi_label", False) else None,
    )
    write_json_atomic(work_dir / METRICS_FILE, {**getattr(model, "metadata", {}), **asdict(result)})
    if not is_chief:  # the other workers' copies are identical to the chief's
        shutil.rmtree(work_dir, ignore_errors=True)
        with contextlib.suppress(OSError):  # the last worker out removes the (then empty) parent
            work_dir.parent.rmdir()
    return result
