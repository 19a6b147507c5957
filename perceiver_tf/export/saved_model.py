"""Export any Perceiver task as a TF Serving SavedModel (`BASE/<version>/`).

The SavedModel is plain TensorFlow: it loads with `tf.saved_model.load` in a process that has
neither perceiver_tf nor any custom Keras object, and runs in `tensorflow/serving` as is.

Signatures:

- `serving_default` (always): the model's own named inputs, float `(B, *input_shape)` per
  input ("inputs" for one input; the modality names for several) plus the bool masks the
  backbone takes (`input_mask`, `<name>_mask`, `modality_mask`). `B` is variable; so is the
  element count of point-cloud / array models whose `input_shape` has `None`.
- `serving_bytes` (when the model's `preprocessor` has a bytes decoder):
  one encoded example per row, string `(B,)`: `image_bytes` (PNG/JPEG/BMP/GIF), `audio_bytes`
  (16-bit PCM WAV, any length, rate and channel count), `points_bytes` (little-endian float32
  xyz triples, any point count) or `sensor_bytes` (little-endian float32 `(T, C)` rows, any T).
  Decoding and preprocessing run in the graph with the processors the training pipeline used
  (`perceiver_tf.data.processors`). No `tf.py_function`. A sensor model trained with step masks
  (`SensorProcessor(mask_padding=True)`) masks the steps that padding adds to a short recording,
  as evaluation does; its `serving_default` takes `input_mask` bool `(B, T)`, True on real steps.

Outputs: classifiers return `probabilities` float32 `(B, K)` (softmax, or independent sigmoids
for multi-label models), `logits` float32 `(B, K)` and `class_ids` int64 `(B,)`; Perceiver IO
models return each task's output by name; a masked language model returns `logits` float32
`(B, L, V)` and `token_ids` int64 `(B, L)` (its input is token ids from `ByteTokenizer`); an
optical-flow model returns `flow` float32 `(B, H, W, 2)`; a bare backbone returns `latents`. Every signature also
returns `valid` bool `(B,)`: False for an example with a non-finite value (NaN, +-Inf) in any
float input (masks are not checked) or, for a model whose preprocessor prepares images,
a value more than `IMAGE_RANGE_TOLERANCE` of the pixel range outside that range
(digits, pixels in [0, 1]: below -0.5 or above 1.5). An invalid example's inputs are replaced by
zeros before the model (its neighbours in the batch are unaffected) and its outputs are zeros,
`class_ids` -1: always finite, so TF Serving's JSON stays valid. The TFLite conversion keeps the
same guard (int8 included). The model metadata (class names, preprocessing) is written next to
the graph as `assets.extra/metadata.json`, where TF Serving keeps extra files.

Writing is atomic (`perceiver_tf.export.atomic`): the SavedModel, metadata included, is written
into a hidden temporary folder beside the target and renamed to `BASE/<version>` once complete,
so TF Serving never sees a half-written version, even when the export is killed.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from perceiver_tf.data.preprocessing import pixel_range
from perceiver_tf.export.atomic import publish_directory, remove_stale_temporaries, swap_directory, temporary_name
from perceiver_tf.models import (
    PerceiverBackbone,
    PerceiverClassifier,
    PerceiverIO,
    PerceiverMaskedLM,
    PerceiverOpticalFlow,
)

SERVING_DEFAULT = "serving_default"
SERVING_BYTES = "serving_bytes"
OUTPUT_NAMES = ("probabilities", "logits", "class_ids", "valid")
METADATA_FILE = os.path.join("assets.extra", "metadata.json")
#: How far outside the image preprocessing's pixel range, as a fraction of its width, an image
#: input may stray before its example is invalid. Decoded and resized files stay inside the range
#: (bilinear resizing does not overshoot); the margin leaves room for clients that preprocess
#: slightly differently, while values such as 255 (unscaled pixels) or 1e6 are rejected.
IMAGE_RANGE_TOLERANCE = 0.5
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT32_MIN = int(np.iinfo(np.int32).min)


@dataclasses.dataclass(frozen=True)
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
    """1 + the largest integer-named subdirectory of `export_base` (1 when there is none).

    An export in progress, or one killed mid-write, is a hidden temporary (`perceiver_tf.export.atomic`),
    not an integer name: it takes no version.
    """
    base = Path(export_base)
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdecimal()] if base.is_dir() else []
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


def accepted_ranges(model: keras.Model) -> dict[str, tuple[float, float]]:
    """`{input name: (low, high)}` of the values an example may hold beyond being finite.

    Only `inputs` of a model whose preprocessor prepares images has one: the
    pixel range `offset + scale * [0, 255]` widened by `IMAGE_RANGE_TOLERANCE` of its width (with per-channel
    `scale` / `offset` lists: the union of the channels' ranges, widened alike).
    """
    preprocessor = getattr(model, "preprocessor", None)
    config = preprocessor.config if preprocessor is not None else {}
    if config.get("modality") != "image":
        return {}
    low, high = pixel_range(config)
    margin = IMAGE_RANGE_TOLERANCE * (high - low)
    return {"inputs": (low - margin, high + margin)}


def valid_examples(model: keras.Model, named: dict[str, tf.Tensor]) -> tf.Tensor:
    """bool `(B,)`: True where every float input `(B, ...)` of the example is finite and inside its
    `accepted_ranges` (+-float32 max for an input without one); other inputs (bool masks, integer
    ids) are not checked.

    The values are compared through `_order_key`, integers, not as floats: an int8 TFLite model
    quantises float inputs before a float comparison would run (clamping 1e6 into the calibrated
    range), but leaves integer ops alone, so the guard is exact in every TFLite variant.
    """
    ranges = accepted_ranges(model)
    valid = tf.fill(tf.shape(next(iter(named.values())))[:1], True)
    for name, tensor in named.items():
        if tensor.dtype.is_floating:
            keys = _order_key(tensor)
            low, high = (_order_key(tf.constant(bound)) for bound in ranges.get(name, (-_FLOAT32_MAX, _FLOAT32_MAX)))
            inside = tf.logical_and(keys >= low, keys <= high)
            valid = tf.logical_and(valid, tf.reduce_all(inside, axis=list(range(1, keys.shape.rank))))
    return valid


def _order_key(values: tf.Tensor) -> tf.Tensor:
    """int32 keys of float `values` (any shape, cast to float32) in the order of the values.

    The IEEE-754 bit pattern, negated by magnitude for negative values: -0 and +0 share key 0,
    +-Inf lie just past +-float32 max and NaNs past those, so a range check rejects them. No
    int32 overflow: the negative branch only ever sees values <= 0.
    """
    bits = tf.bitcast(tf.cast(values, tf.float32), tf.int32)
    return tf.where(bits < 0, _INT32_MIN - tf.minimum(bits, 0), bits)


def _rows(valid: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """`valid` `(B,)` reshaped to broadcast against `like` `(B, ...)`."""
    return tf.reshape(valid, [-1] + [1] * (like.shape.rank - 1))


def _zero_invalid(name: str, value: tf.Tensor, valid: tf.Tensor) -> tf.Tensor:
    """`value` `(B, ...)` with the rows of invalid examples set to 0 (`class_ids`: -1)."""
    return tf.where(_rows(valid, value), value, tf.constant(-1 if name == "class_ids" else 0, value.dtype))


def model_outputs(model: keras.Model, model_inputs) -> dict[str, tf.Tensor]:
    """Run `model` in inference mode -> its named serving outputs, `valid` included (see the
    module docstring): invalid examples' inputs are zeroed before the model, their outputs after."""
    named = {name: tf.convert_to_tensor(value) for name, value in _named(model_inputs).items()}
    valid = valid_examples(model, named)
    cleaned = {name: tf.where(_rows(valid, value), value, tf.zeros_like(value)) if value.dtype.is_floating else value
               for name, value in named.items()}
    outputs = _raw_outputs(model, _structured(model, cleaned))
    if "valid" in outputs:
        raise ValueError("A Perceiver IO task named 'valid' clashes with the serving output `valid`; rename the task.")
    return {**{name: _zero_invalid(name, value, valid) for name, value in outputs.items()}, "valid": valid}


def _raw_outputs(model: keras.Model, model_inputs) -> dict[str, tf.Tensor]:
    """The model's named outputs `(B, ...)` before the validity guard."""
    outputs = model(model_inputs, training=False)
    if isinstance(model, PerceiverIO):
        return {name: tf.cast(value, tf.float32) for name, value in outputs.items()}
    outputs = tf.cast(outputs, tf.float32)
    if isinstance(model, PerceiverMaskedLM):
        return {"logits": outputs, "token_ids": tf.argmax(outputs, axis=-1)}
    if isinstance(model, PerceiverOpticalFlow):
        return {"flow": outputs}
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


def _named(model_inputs) -> dict:
    """The model's input structure (one tensor, or its dict) -> named tensors."""
    return model_inputs if isinstance(model_inputs, dict) else {"inputs": model_inputs}


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
        ValueError: a model without a preprocessor, a modality without a bytes decoder, or
            a preprocessing config whose output shape is not the model's input shape.
    """
    backbone = _backbone(model)
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None:
        raise ValueError("The model has no preprocessor, so there is no raw-bytes signature to build.")
    config, processor = preprocessor.config, preprocessor.processor
    if processor.bytes_input is None:
        raise ValueError(f"No raw-bytes decoder for preprocessing modality {processor.modality!r} (several inputs "
                         "or video frames): serve it with serving_default.")
    produced = tuple(processor.input_shape)
    expected = backbone.adapters["inputs"].example_shape if backbone.single_input else None
    if expected is None or len(produced) != len(expected) or any(
        want is not None and want != got for want, got in zip(expected, produced)
    ):
        raise ValueError(
            f"The model's {processor.modality} preprocessor produces examples of shape {produced}, but the "
            f"model takes {expected}. Received: preprocessing={config}"
        )
    input_name = processor.bytes_input
    example_spec = tf.TensorSpec(produced, tf.float32)
    masked = getattr(processor, "masks_padding", False)  # examples come with their step mask (sensors)
    if masked:
        example_spec = {"inputs": example_spec, "input_mask": tf.TensorSpec(produced[:1], tf.bool)}
    no_seed = tf.zeros([2], tf.int32)

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.string, name=input_name)])
    def serve(encoded):
        examples = tf.map_fn(lambda item: processor.prepare(processor.decode_bytes(item), False, no_seed), encoded,
                             fn_output_signature=example_spec)
        if masked or not backbone.use_input_mask:
            return model_outputs(model, examples)
        mask = tf.ones(tf.shape(examples)[:2], tf.bool)  # every decoded element is real
        return model_outputs(model, {"inputs": examples, "input_mask": mask})

    return input_name, serve


def _archive(model: keras.Model, include_bytes: bool,
             path: Path) -> tuple[keras.export.ExportArchive, SavedModelExport]:
    """The traced export archive of `model` and the `SavedModelExport` (version 0) it makes at `path`."""
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
    return archive, SavedModelExport(path, 0, tuple(signatures), bytes_input, note)


def _write_contents(archive: keras.export.ExportArchive, metadata: dict, folder: Path) -> None:
    """The SavedModel (graph, variables, assets) and `assets.extra/metadata.json` into `folder`."""
    archive.write_out(str(folder), verbose=False)
    metadata_path = folder / METADATA_FILE
    metadata_path.parent.mkdir(parents=True, exist_ok=True)
    metadata_path.write_text(json.dumps(metadata, indent=2, sort_keys=True))


def write_saved_model(model: keras.Model, path: str | os.PathLike, include_bytes: bool = True) -> SavedModelExport:
    """Write the SavedModel of `model` to exactly `path` (no version subdirectory), atomically.

    Args:
        model: a `PerceiverBackbone` or a task on one (its `.metadata` decides the bytes signature).
        path: the SavedModel directory; it must not exist yet.
        include_bytes: add `serving_bytes` where the metadata's preprocessing has a bytes decoder.

    Returns:
        A `SavedModelExport` (with `version=0`); its `note` says why `serving_bytes` is missing.

    Under a Keras backend other than TensorFlow (JAX), the model's `.keras` file is exported by a
    child process on the TensorFlow backend (`perceiver_tf.export.tensorflow_process`).

    Raises:
        ValueError: `path` exists (before the write, or it appeared during it).
    """
    if keras.backend.backend() != "tensorflow":
        from perceiver_tf.export.tensorflow_process import write_saved_model_under_tensorflow

        return write_saved_model_under_tensorflow(model, path, include_bytes)
    archive, export = _archive(model, include_bytes, Path(path))
    publish_directory(path, functools.partial(_write_contents, archive, getattr(model, "metadata", {})))
    return export


def export_saved_model(
    model: keras.Model, export_base: str | os.PathLike, version: int | None = None, overwrite: bool = False
) -> SavedModelExport:
    """Export `model` in the TF Serving layout `export_base/<version>/`, atomically.

    Stale temporaries of killed exports in `export_base` are removed first.

    Args:
        model: a `PerceiverBackbone` or a task on one.
        export_base: the model's base directory (TF Serving's `--model_base_path`).
        version: the integer version; `None`: one more than the largest existing version.
        overwrite: replace an existing `version` (written completely beside it first, then swapped in).

    Returns:
        A `SavedModelExport` describing the written version.

    Raises:
        ValueError: a bad `version`, or that version exists (before the write, or it appeared during it)
            and `overwrite` is false.
    """
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
        raise ValueError(f"`version` must be a non-negative integer. Received: version={version!r}")
    remove_stale_temporaries(export_base)
    if version is None:
        version = next_version(export_base)
    target = Path(export_base) / str(version)
    if target.exists() and overwrite:
        staged = target.with_name(temporary_name(f"replacement-{version}"))
        export = write_saved_model(model, staged)
        swap_directory(staged, target)
        return dataclasses.replace(export, path=target, version=version)
    if target.exists():
        raise ValueError(f"Version {version} already exists at {target}; pick another `version`, omit it, or pass "
                         "`overwrite=True` to replace it.")
    return dataclasses.replace(write_saved_model(model, target), version=version)
