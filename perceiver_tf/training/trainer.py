"""Compile, fit, evaluate and save a classifier: one run per output directory, resumable only by the
same run, with atomic result files."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import keras

from perceiver_tf.backend_support import resolve_jit_compile
from perceiver_tf.data.errors import EnvironmentWarning
from perceiver_tf.files import remove_orphaned_temporaries, replace_atomically, write_json_atomic
from perceiver_tf.optional_packages import TENSORBOARD_MISSING, tensorboard_installed
from perceiver_tf.training.callbacks import (
    AtomicBackupAndRestore,
    BestModelCheckpoint,
    ResumableCSVLogger,
    StopWhenNoLongerBest,
)
from perceiver_tf.training.keras_compat import multi_worker_fixes
from perceiver_tf.training.losses import ClassAccuracy, ClassCrossentropy
from perceiver_tf.training.optimizers import make_optimizer
from perceiver_tf.training.run_lock import RunLock
from perceiver_tf.training.run_settings import RUN_FILE, check_resumable, run_fingerprint, write_fingerprint

#: Files and folders `train_classifier` writes inside `output_dir`.
MODEL_FILE, BEST_FILE, HISTORY_FILE, METRICS_FILE = "model.keras", "best.keras", "history.csv", "metrics.json"
BACKUP_DIR, LOG_DIR, WORKERS_DIR = "backup", "logs", ".workers"
#: The mean over the examples' sample weights: without weights Keras' default mean over the batch;
#: with the zero-weight padding of a data-parallel JAX batch (`PipelineOptions.batch_multiple`) the
#: mean over the real examples only.
LOSS_REDUCTION = "mean_with_sample_weight"


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
    jit_compile: bool | str = "auto",
) -> keras.Model:
    """Compile a classifier with the paper's recipe.

    Single-label: labels are class ids `(B,)` or one-hot / soft rows `(B, K)` (MixUp, CutMix), told
    apart by shape, so a saved model fits and evaluates on either (`ClassCrossentropy`); the metric is
    "accuracy".
    Multi-label (`model.multi_label`): multi-hot labels, binary cross-entropy, and "pr_auc"
    (the area under the precision-recall curve, per class, averaged: close to mAP).
    `jit_compile="auto"`: XLA-compiled steps under JAX, and under TensorFlow for fixed input
    shapes on one device but chunked attention on a CPU (`perceiver_tf.backend_support.default_jit_compile`).
    """
    from_logits = getattr(model, "activation", None) is None
    if getattr(model, "multi_label", False):
        loss = keras.losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing,
                                               reduction=LOSS_REDUCTION)
        metric = keras.metrics.AUC(curve="PR", multi_label=True, from_logits=from_logits, name="pr_auc")
    else:
        loss = ClassCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing, reduction=LOSS_REDUCTION)
        metric = ClassAccuracy()
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate, total_steps, warmup_steps, weight_decay, global_clipnorm),
        loss=loss,
        weighted_metrics=[metric],  # zero-weight padding (`PipelineOptions.batch_multiple`) counts in no score
        jit_compile=resolve_jit_compile(jit_compile, model),
    )
    return model


def validation_map(model: keras.Model, validation_data) -> float:
    """Exact mean average precision (`perceiver_tf.metrics`) of a multi-label model on batches of
    `(x, y)` or `(x, y, sample_weights)` (zero-weight examples left out)."""
    import numpy as np

    from perceiver_tf.metrics import mean_average_precision

    scores, labels = [], []
    for x, y, *weights in validation_data:  # weights: 0 for the padding of `PipelineOptions.batch_multiple`
        real = np.asarray(weights[0]) > 0 if weights else slice(None)
        scores.append(np.asarray(model(x, training=False))[real])
        labels.append(np.asarray(y)[real])
    return mean_average_precision(np.concatenate(labels), np.concatenate(scores))


def holds_checkpoint(work_dir: Path) -> bool:
    """Whether `work_dir/backup/` holds an interrupted run's weights or epoch counter (not just its `run.json`)."""
    backup_dir = Path(work_dir) / BACKUP_DIR
    return backup_dir.is_dir() and any(path.name != RUN_FILE for path in backup_dir.iterdir())


def _clear_previous_run(work_dir: Path) -> None:
    """Delete a previous run's backup, history, best model and metrics: a fresh run starts from nothing."""
    shutil.rmtree(work_dir / BACKUP_DIR, ignore_errors=True)
    for name in (HISTORY_FILE, BEST_FILE, f"{BEST_FILE}.json", METRICS_FILE):
        (work_dir / name).unlink(missing_ok=True)


def _prepare_work_dir(work_dir: Path, fingerprint: dict, restart: bool) -> None:
    """Remove dead processes' temporaries, then start fresh or check that the backup is this run's.

    Raises:
        OutputDirectoryError: the backup belongs to another run (and `restart` is false).
    """
    backup_dir = work_dir / BACKUP_DIR
    for folder in (work_dir, backup_dir):
        remove_orphaned_temporaries(folder)
    if restart or not holds_checkpoint(work_dir):
        _clear_previous_run(work_dir)
    else:
        check_resumable(backup_dir, fingerprint)
    write_fingerprint(backup_dir, fingerprint)


def _callbacks(model: keras.Model, work_dir: Path, log_dir: Path | None,
               early_stopping_patience: int | None,
               selection_window: int = 1) -> tuple[list[keras.callbacks.Callback], BestModelCheckpoint]:
    """Backup/restore, history, best model (scored over `selection_window` epochs), early stopping when
    a patience is given, and TensorBoard logs when `log_dir` is given; and the best-model callback
    (which knows the best epoch)."""
    best = BestModelCheckpoint(work_dir / BEST_FILE, monitor="val_" + validation_metric(model),
                               window=selection_window, history_path=work_dir / HISTORY_FILE)
    callbacks = [AtomicBackupAndRestore(str(work_dir / BACKUP_DIR)), ResumableCSVLogger(work_dir / HISTORY_FILE), best]
    if early_stopping_patience:
        callbacks.append(StopWhenNoLongerBest(best, early_stopping_patience))
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(log_dir), write_graph=False, profile_batch=0))
    return callbacks, best


def _log_dir(output_dir: Path, tensorboard: bool) -> Path | None:
    """Where TensorBoard logs go, or None: not asked for, or TensorBoard is not installed (said once
    as an `EnvironmentWarning`; training goes on without logs)."""
    if not tensorboard:
        return None
    if not tensorboard_installed():
        warnings.warn(TENSORBOARD_MISSING, EnvironmentWarning, stacklevel=3)
        return None
    return output_dir / LOG_DIR


def _completed_epochs(work_dir: Path) -> int:
    """The epochs history.csv records, those of a resumed run's earlier processes included."""
    with open(work_dir / HISTORY_FILE) as f:
        return sum(1 for _ in csv.DictReader(f))


def _restore_best_weights(model: keras.Model, work_dir: Path, best_epoch: int | None, last_epoch: int) -> None:
    """Give `model` the weights of `best.keras` (saved at `best_epoch`) unless that is `last_epoch`.

    Only the weights are copied (`set_weights` from the file's model, loaded uncompiled): loading
    the whole file's state into the compiled model would also replace its metric and optimizer
    state, which under a JAX data-parallel run made the final evaluation count padded examples.
    """
    if best_epoch is None or best_epoch == last_epoch:
        return
    best = keras.models.load_model(work_dir / BEST_FILE, compile=False)
    model.set_weights(best.get_weights())


def _save_results(model: keras.Model, validation_data, history, logs: dict, train_seconds: float,
                  work_dir: Path, completed: int) -> TrainResult:
    """Write `model.keras` and `metrics.json` into `work_dir` (`completed` epochs in all); return what they hold."""
    model_path = work_dir / MODEL_FILE
    replace_atomically(model_path, lambda tmp: model.save(str(tmp)))
    result = TrainResult(
        val_accuracy=float(logs["accuracy"]) if "accuracy" in logs else None,
        val_loss=float(logs["loss"]),
        epochs=completed,
        train_seconds=round(train_seconds, 2),
        num_classes=int(model.output_shape[-1]),
        model_path=str(model_path),
        resumed_from_epoch=int(min(history.epoch)) if history.epoch else completed,
        val_map=validation_map(model, validation_data) if getattr(model, "multi_label", False) else None,
    )
    write_json_atomic(work_dir / METRICS_FILE, {**getattr(model, "metadata", {}), **asdict(result)})
    return result


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
    restart: bool = False,
    settings: dict | None = None,
    early_stopping_patience: int | None = None,
    selection_window: int = 1,
) -> TrainResult:
    """Fit a compiled classifier, evaluate it, and save its files in `output_dir`.

    Writes (atomically) `model.keras` (final), `best.keras` (best val accuracy), `history.csv`
    (one row per epoch), `metrics.json` (strict JSON: a NaN loss is `null`), and TensorBoard logs
    under `logs/` (when `tensorboard` and the package is installed; else an `EnvironmentWarning` says
    how to get them). A backup in `backup/` is kept during training: re-running the same call after
    a crash (even SIGKILL) resumes from the last completed epoch and still trains `epochs` epochs
    in total; the backup is removed when training finishes.

    - One run per directory: the chief holds an exclusive lock on `output_dir/.lock` (see
      `RunLock`) while it trains; the kernel releases it when the process dies.
    - Only the same run resumes a backup: `backup/run.json` records `settings` and a hash of the
      model's config and optimizer class (`run_settings.run_fingerprint`); a backup with other
      ones (or none: an older version's) is refused, unless `restart`.
    - A fresh run (no backup, or `restart`) first deletes the previous run's `backup/`,
      `history.csv`, `best.keras(.json)` and `metrics.json`.
    - Temporaries `.tmp-<pid>-*` left by killed processes are deleted at the start.

    Args:
        model: a compiled classifier (build and compile it inside the strategy's scope).
        train_data / validation_data: `tf.data.Dataset`s of `(inputs, labels)` batches.
        epochs: total number of epochs (a resume may change it).
        output_dir: created if missing.
        is_chief / worker_id: under multi-worker training only the chief writes `output_dir`
            (and takes its lock); worker `i` works in `output_dir/.workers/worker-i` (removed at the end).
        restart: discard an interrupted run's backup instead of resuming it.
        settings: JSON-able settings a resume must share with the run that wrote the backup
            (e.g. the CLI flags without the epoch count); `None`: only the model is compared.
        early_stopping_patience: stop when the validation score (accuracy, or PR-AUC when
            multi-label; ties broken by the validation loss, as `best.keras` is chosen) has not
            improved for this many epochs, and end with the best epoch's
            weights (from `best.keras`, so a resumed run keeps them too): `model.keras` and
            `metrics.json` are then the best epoch's. `None` or 0: all epochs, the last weights.
        selection_window: score each epoch for `best.keras` and early stopping by the mean validation
            score (and loss) over it and the `selection_window - 1` epochs before it
            (`BestModelCheckpoint`): a steadier choice on a small validation set. 1: each epoch alone.

    Raises:
        OutputDirectoryError: `output_dir` is in use by another run, or its backup belongs to
            another run (one line saying what to do).
    """
    output_dir = Path(output_dir)
    work_dir = output_dir if is_chief else output_dir / WORKERS_DIR / f"worker-{worker_id}"
    work_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(output_dir) if is_chief else contextlib.nullcontext():
        _prepare_work_dir(work_dir, run_fingerprint(model, settings, epochs), restart)
        callbacks, best = _callbacks(model, work_dir, _log_dir(output_dir, tensorboard and is_chief),
                                     early_stopping_patience, selection_window)
        with multi_worker_fixes(model, train_data):
            start = time.perf_counter()
            # The tf.data pipeline shuffles; Keras' default shuffle=True would only warn about it.
            history = model.fit(train_data, validation_data=validation_data, epochs=epochs, callbacks=callbacks,
                                verbose=verbose, shuffle=False)
            train_seconds = time.perf_counter() - start
            completed = _completed_epochs(work_dir)
            if early_stopping_patience:
                _restore_best_weights(model, work_dir, best.best_epoch, completed - 1)
            logs = model.evaluate(validation_data, verbose=0, return_dict=True)
        result = _save_results(model, validation_data, history, logs, train_seconds, work_dir, completed)
    if not is_chief:  # the other workers' copies are identical to the chief's
        shutil.rmtree(work_dir, ignore_errors=True)
        with contextlib.suppress(OSError):  # the last worker out removes the (then empty) parent
            work_dir.parent.rmdir()
    return result
