"""Export a `PerceiverClassifier` as a TF Serving SavedModel (`BASE/<version>/`).

The SavedModel is plain TensorFlow: it loads with `tf.saved_model.load` in a process that has
neither perceiver_tf nor any custom Keras object, and runs in `tensorflow/serving` as is.

Signatures:

- `serving_default`: named float inputs, `inputs` `(B, *input_shape)` (plus a bool
  `input_mask` `(B, M)` for models built with `use_input_mask=True`). `B` is variable; so is the
  element count of point-cloud / array models whose `input_shape` has `None`.
- `serving_bytes` (only when `model.metadata["preprocessing"]` exists): one encoded file per
  example, `image_bytes` (PNG/JPEG/BMP/GIF) or `audio_bytes` (16-bit PCM WAV, any length, any
  sample rate, any channel count), string `(B,)`. Decoding and preprocessing run inside the
  graph with the pure-TF functions of `perceiver_tf.data.preprocessing`, the same code the
  training pipelines use. No `tf.py_function`.

Both return `probabilities` float32 `(B, K)`, `logits` float32 `(B, K)` and `class_ids` int64
`(B,)`. The model metadata (class names, preprocessing) is written next to the graph as
`assets.extra/metadata.json`, where TF Serving keeps extra files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from perceiver_tf.data.preprocessing import (
    audio_input_shape,
    decode_image,
    fixed_length,
    image_to_model_input,
    permute_pixels,
    resample,
    to_mono,
    waveform_to_model_input,
)

SERVING_DEFAULT = "serving_default"
SERVING_BYTES = "serving_bytes"
OUTPUT_NAMES = ("probabilities", "logits", "class_ids")
METADATA_FILE = os.path.join("assets.extra", "metadata.json")
OUTPUT_ACTIVATIONS = (None, "softmax")


@dataclass(frozen=True)
class SavedModelExport:
    """Where an export landed and what it serves.

    Attributes:
        path: the version directory, `BASE/<version>`.
        version: the integer version.
        signatures: the signature names written, `serving_default` first.
        bytes_input: the input name of `serving_bytes` ("image_bytes" / "audio_bytes"), or
            `None` when the model metadata has no "preprocessing" (float signature only).
    """

    path: Path
    version: int
    signatures: tuple[str, ...]
    bytes_input: str | None


def next_version(export_base: str | os.PathLike) -> int:
    """1 + the largest integer-named subdirectory of `export_base` (1 when there is none)."""
    base = Path(export_base)
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()] if base.is_dir() else []
    return max(versions, default=0) + 1


def classifier_outputs(model: keras.Model, model_inputs) -> dict[str, tf.Tensor]:
    """Run `model` in inference mode -> `{"probabilities", "logits", "class_ids"}`.

    A model whose head applies softmax reports `logits = log(probabilities)` (the log-softmax,
    which differs from the raw logits only by a per-example constant).
    """
    outputs = tf.cast(model(model_inputs, training=False), tf.float32)
    if model.classifier_activation is None:
        logits, probabilities = outputs, tf.nn.softmax(outputs, axis=-1)
    else:
        logits, probabilities = tf.math.log(outputs), outputs
    return {"probabilities": probabilities, "logits": logits, "class_ids": tf.argmax(logits, axis=-1)}


def _check_exportable(model: keras.Model) -> None:
    for attribute in ("example_shape", "use_input_mask", "classifier_activation", "metadata"):
        if not hasattr(model, attribute):
            raise ValueError(
                f"Only PerceiverClassifier models can be exported (missing `{attribute}`). "
                f"Received: {type(model).__name__}"
            )
    if model.classifier_activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(
            "Export reports class probabilities, so the head must output logits or a softmax. "
            f"Received: classifier_activation={model.classifier_activation!r}"
        )


def _mask_length(model: keras.Model) -> int | None:
    return model.input["input_mask"].shape[1] if model.use_input_mask else None


def float_signature(model: keras.Model) -> tf.types.experimental.PolymorphicFunction:
    """The `serving_default` function: named float inputs -> named outputs."""
    example_spec = tf.TensorSpec((None, *model.example_shape), tf.float32, name="inputs")
    if model.use_input_mask:
        mask_spec = tf.TensorSpec((None, _mask_length(model)), tf.bool, name="input_mask")

        @tf.function(input_signature=[example_spec, mask_spec])
        def serve(inputs, input_mask):
            return classifier_outputs(model, {"inputs": inputs, "input_mask": input_mask})

    else:

        @tf.function(input_signature=[example_spec])
        def serve(inputs):
            return classifier_outputs(model, inputs)

    return serve


def _decode_image_example(encoded: tf.Tensor, config: dict) -> tf.Tensor:
    """Encoded PNG/JPEG -> the model input the training pipeline made (incl. a pixel permutation)."""
    return permute_pixels(image_to_model_input(decode_image(encoded, config["channels"]), config), config)


def _decode_wav_example(encoded: tf.Tensor, config: dict) -> tf.Tensor:
    audio, sample_rate = tf.audio.decode_wav(encoded)
    waveform = resample(to_mono(audio), sample_rate, config["sample_rate"])
    return waveform_to_model_input(fixed_length(waveform, config["num_samples"]), config)


def _image_shape(config: dict) -> tuple[int, ...]:
    return (*config["image_size"], config["channels"])


#: modality -> (bytes input name, decoder of one encoded example, model input shape of a config).
BYTES_DECODERS: dict[str, tuple[str, Callable, Callable]] = {
    "image": ("image_bytes", _decode_image_example, _image_shape),
    "audio": ("audio_bytes", _decode_wav_example, audio_input_shape),
}


def bytes_signature(model: keras.Model) -> tuple[str, tf.types.experimental.PolymorphicFunction]:
    """The `serving_bytes` function: encoded files `(B,)` -> named outputs.

    Returns:
        `(input_name, tf.function)`.

    Raises:
        ValueError: no "preprocessing" in the metadata, an unknown modality, or a preprocessing
            config whose output shape is not the model's input shape.
    """
    config = model.metadata.get("preprocessing")
    if not config:
        raise ValueError("The model metadata has no 'preprocessing', so there is no raw-bytes signature to build.")
    modality = config.get("modality")
    if modality not in BYTES_DECODERS:
        raise ValueError(
            f"No raw-bytes decoder for preprocessing modality {modality!r}. Valid: {', '.join(BYTES_DECODERS)}"
        )
    input_name, decode_example, shape_of = BYTES_DECODERS[modality]
    produced = tuple(shape_of(config))
    if produced != tuple(model.example_shape):
        raise ValueError(
            f"The {modality} preprocessing in the metadata produces examples of shape {produced}, but the model "
            f"takes {tuple(model.example_shape)}. Received: preprocessing={config}"
        )
    example_spec = tf.TensorSpec(produced, tf.float32)
    mask_length = _mask_length(model)

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.string, name=input_name)])
    def serve(encoded):
        examples = tf.map_fn(
            lambda item: decode_example(item, config), encoded, fn_output_signature=example_spec
        )
        if mask_length is None:
            return classifier_outputs(model, examples)
        mask = tf.ones((tf.shape(examples)[0], mask_length), tf.bool)
        return classifier_outputs(model, {"inputs": examples, "input_mask": mask})

    return input_name, serve


def write_saved_model(model: keras.Model, path: str | os.PathLike, include_bytes: bool = True) -> SavedModelExport:
    """Write the SavedModel of `model` to exactly `path` (no version subdirectory).

    Args:
        model: a `PerceiverClassifier` (its `.metadata` decides the bytes signature).
        path: the SavedModel directory.
        include_bytes: add `serving_bytes` when the metadata has "preprocessing".

    Returns:
        A `SavedModelExport` (with `version=0`).
    """
    _check_exportable(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SERVING_DEFAULT, float_signature(model))
    signatures = [SERVING_DEFAULT]
    bytes_input = None
    if include_bytes and model.metadata.get("preprocessing"):
        bytes_input, serve_bytes = bytes_signature(model)
        archive.add_endpoint(SERVING_BYTES, serve_bytes)
        signatures.append(SERVING_BYTES)
    archive.write_out(str(path), verbose=False)
    metadata_path = Path(path) / METADATA_FILE
    metadata_path.parent.mkdir(parents=True, exist_ok=True)
    metadata_path.write_text(json.dumps(model.metadata, indent=2, sort_keys=True))
    return SavedModelExport(Path(path), 0, tuple(signatures), bytes_input)


def export_saved_model(
    model: keras.Model, export_base: str | os.PathLike, version: int | None = None
) -> SavedModelExport:
    """Export `model` in the TF Serving layout `export_base/<version>/`.

    Args:
        model: a `PerceiverClassifier`.
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
    return SavedModelExport(target, version, written.signatures, written.bytes_input)
