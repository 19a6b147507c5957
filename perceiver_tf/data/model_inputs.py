"""Files or arrays -> a trained model's inputs, exactly as its evaluation pipeline made them.

A model written by `perceiver-tf train` records its preprocessing in `model.metadata`; `preprocess`
replays it, so `model.predict(preprocess(model, files))` gives what `perceiver-tf predict` gives.
`describe_inputs` states the contract (dtype, shape, value range) that `metadata["inputs"]` records.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from perceiver_tf.data.preprocessing import channel_values, pixel_range

#: What each modality's model input holds, as `describe_inputs` reports it.
_CONTENTS = {
    "points": "xyz centred on the cloud's mean and scaled into the unit sphere",
    "sensors": "the recording's own values (no scaling), cropped or zero-padded in time",
}
#: The arrays `preprocess` accepts per modality (anything else: pass files).
_ARRAYS = {
    "image": "uint8 pixels (B, H, W[, C]), any size (resized as training did)",
    "points": "raw coordinates (B, n, 3)",
    "sensors": "recordings (B, T, C)",
    "audio": "waveforms (B, T) or (B, T, C) in [-1, 1] at the model's sample rate",
}


def processor_of(model):
    """The processor of a model's own preprocessing (`model.preprocessor`, a `Preprocessor` layer saved
    with it): its evaluation data, files and arrays are prepared with this.

    Raises:
        ValueError: a model without a preprocessor (not trained from data by perceiver_tf).
    """
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None:
        raise ValueError("This model has no preprocessor (model.preprocessor): pass a model trained with "
                         "perceiver_tf.train or `perceiver-tf train`, or give it inputs already prepared.")
    return preprocessor.processor


def describe_inputs(processor) -> dict:
    """`{input name: {"dtype", "shape", "holds"}}`: what the model takes, per input (shapes without the batch)."""
    shapes = processor.input_shape if isinstance(processor.input_shape, dict) else {"inputs": processor.input_shape}
    parts = {"audio": processor.audio, "video": processor.video} if processor.modality == "audio_video" else {
        "inputs": processor}
    described = {name: {"dtype": "float32", "shape": list(shapes[name]), "holds": _holds(parts[name])}
                 for name in shapes}
    if getattr(processor, "masks_padding", False):  # sensor recordings with their step masks
        described["input_mask"] = {"dtype": "bool", "shape": list(shapes["inputs"][:1]),
                                   "holds": "True on the recording's time steps, False on the padding after it"}
    return described


def _holds(processor) -> str:
    config = processor.config
    if "scale" in config:  # images and video frames
        scale, offset = config["scale"], config["offset"]
        low, high = pixel_range(config)
        if isinstance(scale, list) or isinstance(offset, list):  # per channel: 1 / (255 std), -mean / std
            scales, offsets = channel_values(config)
            mean = ", ".join(f"{-o / (255 * s):.4g}" for s, o in zip(scales, offsets))
            std = ", ".join(f"{1 / (255 * s):.4g}" for s in scales)
            return (f"pixels normalised per channel, in [{low:.4g}, {high:.4g}]: (8-bit value / 255 - mean) / std, "
                    f"mean [{mean}], std [{std}]")
        divisor = 1 / scale
        rule = f"/ {round(divisor)}" if abs(divisor - round(divisor)) < 1e-6 else f"x {scale:g}"
        return f"pixels in [{low:g}, {high:g}] (8-bit value {rule}{f' + {offset:g}' if offset else ''})"
    if config["modality"] == "audio":
        features = config.get("features", "log_mel")
        return ("log-mel frames (log of mel energy + 1e-6)" if features == "log_mel"
                else "raw-waveform patches, samples in [-1, 1]")
    if config["modality"] == "points":
        aligned = ", in its principal-axis frame" if config.get("align") == "pca" else ""
        neighbors = config.get("local_geometry")
        geometry = (f"; then each point's linearity, planarity, scattering and |normal| over its {neighbors} "
                    "nearest neighbours" if neighbors else "")
        return _CONTENTS["points"] + aligned + geometry
    return _CONTENTS[config["modality"]]


def model_input_from_file(processor, path):
    """One file (a string tensor) -> the example `(*input_shape)` (or dict of them) of the evaluation pipeline."""
    return processor.prepare(processor.decode_file(path), False, tf.zeros([2], tf.int32))


def as_model_inputs(model, example):
    """One example (a tensor, or a dict per input) -> a batch of one in the structure the model takes,
    with all-True element and modality masks where the model has mask inputs (a decoded file is all real)."""
    data = {name: np.asarray(value)[None] for name, value in (example.items() if isinstance(example, dict)
                                                               else [("inputs", example)])}
    if not isinstance(model.input, dict):
        return data["inputs"]
    inputs = {}
    for name, tensor in model.input.items():
        if name in data:
            inputs[name] = data[name]
            continue
        # A mask. A variable element count (point clouds) is the example's own: no patches there.
        owner = "inputs" if name == "input_mask" else name[: -len("_mask")]
        length = tensor.shape[1] if tensor.shape[1] is not None else data[owner].shape[1]
        inputs[name] = np.ones((1, length), bool)
    return inputs


def preprocess(model, items):
    """Files or raw arrays -> the batch `model` takes, preprocessed exactly as its evaluation data was.

    Args:
        model: a model written by `perceiver-tf train` (its `preprocessor`).
        items: file paths (a list of str / PathLike; clip folders for audio + video), or one array
            of raw examples: uint8 images `(B, H, W, C)` (any size), point clouds `(B, n, 3)`,
            sensor recordings `(B, T, C)` or waveforms `(B, T[, C])` at the model's sample rate.

    Returns:
        float32 `(B, *input_shape)`, or a dict of them (with all-True masks) for models with
        several inputs or mask inputs: what `model(...)` and `model.predict` take.

    Raises:
        ValueError: a model without recorded preprocessing, an array the modality cannot take
            (e.g. float images: their scale is ambiguous), or a file that cannot be read.
    """
    processor = processor_of(model)
    if isinstance(items, np.ndarray):
        examples = [model_input_from_array(processor, row) for row in items]
    else:
        examples = [_from_file(processor, os.fspath(path)) for path in items]
    if not examples:
        raise ValueError("preprocess() got no examples.")
    batches = [as_model_inputs(model, tf.nest.map_structure(np.asarray, example)) for example in examples]
    return tf.nest.map_structure(lambda *rows: np.concatenate(rows), *batches)


def _from_file(processor, path: str):
    try:
        return model_input_from_file(processor, tf.constant(path))
    except tf.errors.OpError as error:
        from perceiver_tf.data.errors import error_reason

        raise ValueError(f"{path}: {error_reason(error, path)}") from None


def model_input_from_array(processor, example: np.ndarray, sample_rate: int | None = None):
    """One raw example -> its model input, as the evaluation pipeline makes it (see `preprocess` for
    what each modality takes); `sample_rate`: a waveform's (default the model's).

    Raises:
        ValueError: an array this modality cannot take, naming what it takes.
    """
    modality = processor.modality
    if modality not in _ARRAYS or (modality == "image" and example.dtype != np.uint8):
        accepted = f" or {_ARRAYS[modality]}" if modality in _ARRAYS else ""
        raise ValueError(f"A {modality} model's preprocess() takes file paths{accepted}; got a {example.dtype} "
                         f"array of shape {example.shape} per example. (Float images are ambiguous: pass "
                         "uint8 pixels, or give inputs already in the model's range straight to the model.)")
    if modality == "image":
        example = _one_image(example)
    tensor = tf.constant(example)
    decoded = (processor.from_decoded(tensor, sample_rate or processor.config["sample_rate"]) if modality == "audio"
               else processor.from_decoded(tensor))
    return processor.prepare(decoded, False, tf.zeros([2], tf.int32))


def _one_image(image: np.ndarray) -> np.ndarray:
    """One uint8 image `(H, W)` or `(H, W, C)` with 1-4 channels -> `(H, W, 1 or 3)` (alpha dropped, as a
    decoded file's).

    Raises:
        ValueError: any other shape (e.g. a batch given as one example), naming what is taken.
    """
    if image.ndim == 2:
        return image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"An image example is (H, W) or (H, W, C) with 1 to 4 channels; got shape {image.shape} "
                         "(a batch is several examples: pass a list, or a (B, H, W, C) array to predict()).")
    return image[..., : 1 if image.shape[-1] <= 2 else 3]
