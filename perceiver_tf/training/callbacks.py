"""Fault-tolerant callbacks: atomic backup/restore, a resumable CSV history, the best model.

Every file is written by `perceiver_tf.files.replace_atomically` through a temporary sibling; a
process killed mid-write leaves only that temporary behind (`remove_orphaned_temporaries`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path

import keras

from perceiver_tf.files import replace_atomically, write_json_atomic


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose weights and epoch counter are each replaced atomically.

    A run killed (even by SIGKILL) mid-epoch and restarted with the same `backup_dir` resumes
    from the last completed epoch, with weights, optimizer state and schedule step restored.
    """

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        replace_atomically(Path(self._weights_path), lambda tmp: self.model.save_weights(str(tmp), overwrite=True))
        write_json_atomic(Path(self._training_metadata_path), {"epoch": self._current_epoch, "batch": 0})


class ResumableCSVLogger(keras.callbacks.Callback):
    """Per-epoch history in CSV, rewritten atomically each epoch.

    On a resumed run, rows of epochs at or after the resume point are dropped, so the file
    holds exactly one row per completed epoch. `elapsed_seconds` is the wall time of training
    up to the end of that epoch (tracing/compilation and validation included; a resumed run
    goes on from its last kept row), so time-to-accuracy reads straight off the file.
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        self.rows: list[dict] | None = None
        self.started = time.perf_counter()

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        if self.rows is None:
            previous = list(csv.DictReader(self.path.open())) if self.path.exists() else []
            self.rows = [r for r in previous if int(r["epoch"]) < epoch]
            # A resumed run's clock goes on from the last kept epoch.
            self.started -= float(self.rows[-1].get("elapsed_seconds") or 0.0) if self.rows else 0.0

    def on_epoch_end(self, epoch, logs=None):
        lr = self.model.optimizer.learning_rate
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}, "learning_rate": float(lr),
               "elapsed_seconds": round(time.perf_counter() - self.started, 3)}
        self.rows.append(row)
        fields = list(dict.fromkeys(k for r in self.rows for k in r))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(self.rows)
        replace_atomically(self.path, lambda tmp: Path(tmp).write_text(buffer.getvalue()))


class BestModelCheckpoint(keras.callbacks.Callback):
    """Save the model atomically whenever `monitor` improves (state kept across resumes).

    An epoch that ties the best `monitor` value improves when its `tie_breaker` (default: the
    validation loss, lower is better) is better: once validation accuracy saturates (e.g. at 1.0 on
    a small validation set) the later, better-fitted epoch is kept, not the first lucky one. A NaN
    or infinite value (a diverged epoch) never counts as an improvement. `best_epoch` is the
    best epoch's index (`None` before one).

    With `window` > 1 an epoch is scored by the mean of `monitor` (and of `tie_breaker`) over it and
    the `window - 1` epochs before it (fewer at the start): on a small validation set one epoch's
    accuracy is noisy (48 examples: a standard error near 4 points), and the best single epoch is
    often a lucky one of an under-fitted model. The saved weights are those of the window's last
    epoch. A resumed run takes the earlier epochs' values from `history_path` (history.csv).
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_accuracy", mode: str = "max",
                 tie_breaker: str | None = "val_loss", window: int = 1, history_path: str | os.PathLike | None = None):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"`mode` must be 'max' or 'min'. Received: mode={mode!r}")
        if window < 1:
            raise ValueError(f"`window` must be >= 1. Received: window={window}")
        self.path, self.monitor, self.mode, self.tie_breaker = Path(path), monitor, mode, tie_breaker
        self.window, self.history_path = window, Path(history_path) if history_path else None
        self.state_path = self.path.with_name(self.path.name + ".json")
        state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        self.best, self.best_epoch = state.get("best"), state.get("epoch")
        self.best_tie_breaker = state.get("tie_breaker_value")
        self.recent: list[tuple[float, float | None]] | None = None  # (monitor, tie breaker) of the window

    def _improves(self, value: float, tie_value: float | None) -> bool:
        if self.best is None:
            return True
        if value != self.best:
            return value > self.best if self.mode == "max" else value < self.best
        return tie_value is not None and (self.best_tie_breaker is None or tie_value < self.best_tie_breaker)

    def on_epoch_begin(self, epoch, logs=None):
        if self.recent is None:  # a resumed run: the window's earlier epochs from history.csv
            rows = list(csv.DictReader(self.history_path.open())) if self.history_path and self.history_path.exists() \
                else []
            earlier = [self._values(row) for row in rows if int(row["epoch"]) < epoch]
            self.recent = earlier[-(self.window - 1):] if self.window > 1 else []

    def _values(self, logs) -> tuple[float, float | None]:
        """`(monitor, tie breaker)` of one epoch's logs (NaN where missing or not finite)."""
        def finite(name):
            value = logs.get(name) if name else None
            value = float(value) if value not in (None, "") else math.nan
            return value if math.isfinite(value) else math.nan
        return finite(self.monitor), finite(self.tie_breaker)

    def on_epoch_end(self, epoch, logs=None):
        if self.recent is None:
            self.on_epoch_begin(epoch)
        value, tie_value = self._values(logs or {})
        self.recent = (self.recent + [(value, tie_value)])[-self.window:]
        if not math.isfinite(value):  # a diverged epoch is never the best
            return
        value = sum(v for v, _ in self.recent) / len(self.recent)  # NaN while a diverged epoch is in the window
        ties = [t for _, t in self.recent]
        tie_value = sum(ties) / len(ties) if self.tie_breaker and all(map(math.isfinite, ties)) else None
        if not math.isfinite(value):
            return
        if self._improves(value, tie_value):
            self.best, self.best_epoch, self.best_tie_breaker = value, epoch, tie_value
            replace_atomically(self.path, lambda tmp: self.model.save(str(tmp)))
            write_json_atomic(self.state_path, {"best": value, "epoch": epoch, "monitor": self.monitor,
                                                "window": self.window, "tie_breaker": self.tie_breaker,
                                                "tie_breaker_value": tie_value})


class StopWhenNoLongerBest(keras.callbacks.Callback):
    """Early stopping on a `BestModelCheckpoint`'s notion of best: stop once `patience` epochs have
    passed since its best epoch (its state survives resumes, so a resumed run counts on)."""

    def __init__(self, checkpoint: BestModelCheckpoint, patience: int):
        super().__init__()
        if patience < 1:
            raise ValueError(f"`patience` must be >= 1. Received: patience={patience}")
        self.checkpoint, self.patience = checkpoint, patience

    def on_epoch_end(self, epoch, logs=None):
        best = self.checkpoint.best_epoch
        if best is not None and epoch - best >= self.patience:
            self.model.stop_training = True