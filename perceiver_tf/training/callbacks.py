"""Fault-tolerant callbacks: atomic backup/restore, a resumable CSV history, the best model."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import keras


def replace_atomically(path: Path, write) -> None:
    """Call `write(tmp_path)` then rename it over `path`: readers never see a partial file.

    The temporary name keeps `path`'s suffixes (Keras checks `.keras` / `.weights.h5`).
    """
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    write(tmp)
    os.replace(tmp, path)


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON atomically (temporary file + rename)."""
    replace_atomically(path, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=2, sort_keys=True)))


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
    holds exactly one row per completed epoch.
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        self.rows: list[dict] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.rows is None:
            previous = list(csv.DictReader(self.path.open())) if self.path.exists() else []
            self.rows = [r for r in previous if int(r["epoch"]) < epoch]

    def on_epoch_end(self, epoch, logs=None):
        lr = self.model.optimizer.learning_rate
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}, "learning_rate": float(lr)}
        self.rows.append(row)
        fields = list(dict.fromkeys(k for r in self.rows for k in r))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(self.rows)
        replace_atomically(self.path, lambda tmp: Path(tmp).write_text(buffer.getvalue()))


class BestModelCheckpoint(keras.callbacks.Callback):
    """Save the model atomically whenever `monitor` improves (state kept across resumes)."""

    def __init__(self, path: str | os.PathLike, monitor: str = "val_accuracy", mode: str = "max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"`mode` must be 'max' or 'min'. Received: mode={mode!r}")
        self.path, self.monitor, self.mode = Path(path), monitor, mode
        self.state_path = self.path.with_name(self.path.name + ".json")
        self.best = json.loads(self.state_path.read_text())["best"] if self.state_path.exists() else None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        if self.best is None or (value > self.best if self.mode == "max" else value < self.best):
            self.best = value
            replace_atomically(self.path, lambda tmp: self.model.save(str(tmp)))
            write_json_atomic(self.state_path, {"best": value, "epoch": epoch, "monitor": self.monitor})
