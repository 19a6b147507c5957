"""Compile, fit, evaluate and save a classifier, writing results atomically."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras

from perceiver_tf.training.optimizers import make_optimizer


@dataclass
class TrainResult:
    """What `train_classifier` produced (also written to `metrics.json`)."""

    val_accuracy: float
    val_loss: float
    epochs: int
    train_seconds: float
    num_classes: int
    model_path: str


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON via a temporary file + rename, so readers never see a partial file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    os.replace(tmp, path)


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
) -> keras.Model:
    """Compile `model` (logits output) with the paper's recipe and integer labels."""
    loss = (
        keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing)
        if label_smoothing
        else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate, total_steps, warmup_steps, weight_decay, global_clipnorm),
        loss=loss,
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def train_classifier(
    model: keras.Model,
    train_data,
    validation_data,
    epochs: int,
    output_dir: str | os.PathLike,
    verbose: int | str = "auto",
) -> TrainResult:
    """Fit a compiled classifier, evaluate it, and save `model.keras`, `history.csv`, `metrics.json`.

    Args:
        model: a compiled classifier.
        train_data / validation_data: `tf.data.Dataset`s of `(inputs, labels)` batches.
        epochs: number of epochs.
        output_dir: created if missing.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    callbacks = [keras.callbacks.CSVLogger(str(output_dir / "history.csv"))]
    start = time.perf_counter()
    model.fit(train_data, validation_data=validation_data, epochs=epochs, callbacks=callbacks, verbose=verbose)
    train_seconds = time.perf_counter() - start
    val_loss, val_accuracy = model.evaluate(validation_data, verbose=0)
    model_path = output_dir / "model.keras"
    tmp_path = output_dir / "model.tmp.keras"
    model.save(tmp_path)
    os.replace(tmp_path, model_path)
    result = TrainResult(
        val_accuracy=float(val_accuracy),
        val_loss=float(val_loss),
        epochs=epochs,
        train_seconds=round(train_seconds, 2),
        num_classes=int(model.output_shape[-1]),
        model_path=str(model_path),
    )
    write_json_atomic(output_dir / "metrics.json", {**asdict(result), **getattr(model, "metadata", {})})
    return result
