"""Export any Perceiver task as a TF Serving SavedModel (`BASE/<version>/`).

The SavedModel is plain TensorFlow: it loads with `tf.saved_model.load` in a process that has
neither perceiver_tf nor any custom Keras object, and runs in `tensorflow/serving` as is.

Signatures:

- `serving_default` (always): the model's own named inputs, float `(B, *input_shape)` per
  input ("inputs" for one input; the modality names for several) plus the bool masks the
  backbone takes (`input_mask`, `<name>_mask`, `modality_mask`). `B` is variable; so is the
  element count of point-cloud / array models whose `input_shape` has `None`.
- `serving_bytes` (when `model.metadata["preprocessing"]` names a modality with a bytes decoder):
  one encoded example per row, string `(B,)`: `image_bytes` (PNG/JPEG/BMP/GIF), `audio_bytes`
  (16-bit PCM WAV, any length, rate and channel count), `points_bytes` (little-endian float32
  xyz triples, any point count) or `sensor_bytes` (little-endian float32 `(T, C)` rows, any T).
  Decoding and preprocessing run in the graph with the processors the training pipeline used
  (`perceiver_tf.data.processors`). No `tf.py_function`.

Outputs: classifiers return `probabilities` float32 `(B, K)` (softmax, or independent sigmoids
for multi-label models), `logits` float32 `(B, K)` and `class_ids` int64 `(B,)`; Perceiver IO
models return each task's output by name; a bare backbone returns `latents`. The model metadata
(class names, preprocessing) is written next to the graph as `assets.extra/metadata.json`, where
TF Serving keeps extra files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from perceiver_tf.data.processors import processor_from_config
from perceiver_tf.models import PerceiverBackbone, PerceiverClassifier, PerceiverIO

SERVING_DEFAULT = "serving_default"
SERVING_BYTES = "serving_bytes"
OUTPUT_NAMES = ("probabilities", "logits", "class_ids")
METADATA_FILE = os.path.join("assets.extra", "metadata.json")


@dataclass(frozen=True)
class SavedModelExport:
    """Where an export landed and what it serves.

    Attributes:
        path: the version directory, `BASE/<version>`.
        version: the integer version.
        signatures: the signature names written, `serving_default` first.
        bytes_input: the input name of `serving_bytes` (e.g. "image_bytes"), or `None`.
        note: why there is no `serving_bytes`, when there is none.
    """

    path: Path
    version: int
    signatures: tuple[str, ...]
    bytes_input: str | None
    note: str | None = None


def next_version(export_base: str | os.PathLike) -> int:
    """1 + the largest integer-named subdirectory of `export_base` (1 when there is none)."""
    base = Path(export_base)
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()] if base.is_dir() else []
    return max(versions, default=0) + 1


def _backbone(model: keras.Model) -> PerceiverBackbone:
    backbone = model if isinstance(model, PerceiverBackbone) else getattr(model, "backbone", None)
    if not isinstance(backbone, PerceiverBackbone):
        raise ValueError(
            f"Only perceiver_tf models (a PerceiverBackbone or a task on one) can be exported. Received: "
            f"{type(model).__name__}"
        )
    return backbone


def input_specs(model: keras.Model) -> dict[str, tf.TensorSpec]:
    """`{input name: TensorSpec}` of the model's inputs, batch axis variable."""
    inputs = model.input if isinstance(model.input, dict) else {"inputs": model.input}
    return {name: tf.TensorSpec((None, *tensor.shape[1:]), tensor.dtype, name=name) for name, tensor in inputs.items()}


def model_outputs(model: keras.Model, model_inputs) -> dict[str, tf.Tensor]:
    """Run `model` in inference mode -> its named serving outputs (see the module docstring)."""
    outputs = model(model_inputs, training=False)
    if isinstance(model, PerceiverIO):
        return {name: tf.cast(value, tf.float32) for name, value in outputs.items()}
    outputs = tf.cast(outputs, tf.float32)
    if not isinstance(model, PerceiverClassifier):
        return {"latents": outputs}
    if model.activation is None:
        logits = outputs
        probabilities = tf.sigmoid(logits) if model.multi_label else tf.nn.softmax(logits, axis=-1)
    elif model.activation == "sigmoid":  # log-odds
        probabilities, logits = outputs, tf.math.log(outputs) - tf.math.log1p(-outputs)
    else:  # the log-softmax: the raw logits up to a per-example constant
        probabilities, logits = outputs, tf.math.log(outputs)
    return {"probabilities": probabilities, "logits": logits, "class_ids": tf.argmax(probabilities, axis=-1)}


def _structured(model: keras.Model, tensors: dict):
    """Named tensors -> the structure the model takes (one tensor, or its dict)."""
    return tensors if isinstance(model.input, dict) else tensors["inputs"]


def float_signature(model: keras.Model) -> tf.types.experimental.PolymorphicFunction:
    """The `serving_default` function: the model's named inputs -> named outputs."""
    _backbone(model)
    specs = input_specs(model)
    names = list(specs)

    @tf.function(input_signature=list(specs.values()))
    def serve(*tensors):
        return model_outputs(model, _structured(model, dict(zip(names, tensors))))

    return serve


def bytes_signature(model: keras.Model) -> tuple[str, tf.types.experimental.PolymorphicFunction]:
    """The `serving_bytes` function: encoded examples `(B,)` -> named outputs.

    Returns:
        `(input_name, tf.function)`.

    Raises:
        ValueError: no "preprocessing" in the metadata, a modality without a bytes decoder, or
            a preprocessing config whose output shape is not the model's input shape.
    """
    backbone = _backbone(model)
    config = getattr(model, "metadata", {}).get("preprocessing")
    if not config:
        raise ValueError("The model metadata has no 'preprocessing', so there is no raw-bytes signature to build.")
    processor = processor_from_config(config)
    if processor.bytes_input is None:
        raise ValueError(f"No raw-bytes decoder for preprocessing modality {processor.modality!r} (several inputs "
                         "or video frames): serve it with serving_default.")
    produced = tuple(processor.input_shape)
    expected = backbone.adapters["inputs"].example_shape if backbone.single_input else None
    if expected is None or len(produced) != len(expected) or any(
        want is not None and want != got for want, got in zip(expected, produced)
    ):
        raise ValueError(
            f"The {processor.modality} preprocessing in the metadata produces examples of shape {produced}, but the "
            f"model takes {expected}. Received: preprocessing={config}"
        )
    input_name = processor.bytes_input
    example_spec = tf.TensorSpec(produced, tf.float32)
    no_seed = tf.zeros([2], tf.int32)

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.string, name=input_name)])
    def serve(encoded):
        examples = tf.map_fn(lambda item: processor.prepare(processor.decode_bytes(item), False, no_seed), encoded,
                             fn_output_signature=example_spec)
        if not backbone.use_input_mask:
            return model_outputs(model, examples)
        mask = tf.ones(tf.shape(examples)[:2], tf.bool)  # every decoded element is real
        return model_outputs(model, {"inputs": examples, "input_mask": mask})

    return input_name, serve


def write_saved_model(model: keras.Model, path: str | os.PathLike, include_bytes: bool = True) -> SavedModelExport:
    """Write the SavedModel of `model` to exactly `path` (no version subdirectory).

    Args:
        model: a `PerceiverBackbone` or a task on one (its `.metadata` decides the bytes signature).
        path: the SavedModel directory.
        include_bytes: add `serving_bytes` where the metadata's preprocessing has a bytes decoder.

    Returns:
        A `SavedModelExport` (with `version=0`); its `note` says why `serving_bytes` is missing.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SERVING_DEFAULT, float_signature(model))
    signatures, bytes_input, note = [SERVING_DEFAULT], None, None
    if include_bytes:
        try:
            bytes_input, serve_bytes = bytes_signature(model)
        except ValueError as reason:
            note = f"only serving_default was exported: {reason}"
        else:
            archive.add_endpoint(SERVING_BYTES, serve_bytes)
            signatures.append(SERVING_BYTES)
    archive.write_out(str(path), verbose=False)
    metadata_path = Path(path) / METADATA_FILE
    metadata_path.parent.mkdir(parents=True, exist_ok=True)
    metadata_path.write_text(json.dumps(getattr(model, "metadata", {}), indent=2, sort_keys=True))
    return SavedModelExport(Path(path), 0, tuple(signatures), bytes_input, note)


def export_saved_model(
    model: keras.Model, export_base: str | os.PathLike, version: int | None = None
) -> SavedModelExport:
    """Export `model` in the TF Serving layout `export_base/<version>/`.

    Args:
        model: a `PerceiverBackbone` or a task on one.
        export_base: the model's base directory (TF Serving's `--model_base_path`).
        version: the integer version; `None`: one more than the largest existing version.

    Returns:
        A `SavedModelExport` describing the written version.
    """
    if version is None:
        version = next_version(export_base)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"`version` must be a non-negative integer. Received: version={version!r}")
    target = Path(export_base) / str(version)
    if target.exists():
        raise ValueError(f"Version {version} already exists at {target}; pick another `version` or omit it.")
    written = write_saved_model(model, target)
    return SavedModelExport(target, version, written.signatures, written.bytes_input, written.note)
