"""`perceiver_tf.predict`: the top-k classes of files or raw examples, one dict per input.

The same dicts `perceiver-tf predict` prints as JSON lines (`{"file", "top_k": [{"class",
"probability"}], ["labels"]}`; no "file" for an array), and the same per-example refusals: an input
that cannot be read, holds NaN or Inf after preprocessing, lies outside the range the model was
trained on, or gives non-finite probabilities becomes `{"error": why}` instead of a guess. A masked
language model (from `perceiver-tf convert`) reads UTF-8 text files and fills in their `[MASK]` tokens.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from perceiver_tf.errors import OptionError, PerceiverError
from perceiver_tf.workflows.model_files import trained_model
from perceiver_tf.workflows.values import positive_int

#: A multi-label model reports every class whose probability reaches this.
MULTI_LABEL_THRESHOLD = 0.5


def predict(model, inputs, top_k: int = 5, sample_rate: int | None = None) -> list[dict]:
    """The most probable classes of each input, as `perceiver-tf predict` reports them
    (`list(predictions(...))`; see `predictions`)."""
    return list(predictions(model, inputs, top_k, sample_rate))


def predictions(model, inputs, top_k: int = 5, sample_rate: int | None = None) -> Iterator[dict]:
    """The dict of each input in turn, as it is classified (the model is loaded and the arguments
    checked before the first).

    Args:
        model: a `keras.Model` from `perceiver_tf.train` (or `perceiver-tf train`) or its `model.keras` path.
        inputs: file paths (one, or a list), or raw decoded examples: one array per example in a
            list, or an array batch `(B, ...)`: uint8 images `(H, W[, C])` of any size, waveforms
            `(T[, C])` (at `sample_rate`, default the model's), point clouds `(n, 3)`, sensor
            recordings `(T, C)`. A list may mix paths and arrays.
        top_k: classes listed per input, most probable first.
        sample_rate: the rate of raw waveforms (audio models only).

    Returns:
        One dict per input, in order: `{"file" (paths only), "top_k": [{"class", "probability"}],
        "labels" (multi-label models: the classes with probability >= 0.5), "conversions" (what
        preprocessing changed: "colour -> grey", "resized 64x64 -> 8x8", ...), "unusual" (how the
        input differs from the training examples, when it does)}` or `{["file"], "error"}`.

    Raises:
        OptionError: `top_k` below 1, or inputs of a kind the model cannot take.
        PerceiverError: a model that cannot be loaded, or an environment that cannot read any file.
    """
    import tensorflow as tf

    from perceiver_tf.data.model_inputs import model_input_from_file, processor_of

    positive_int.check("top_k", top_k)
    model, metadata = trained_model(model)
    items = _as_items(inputs)
    if metadata["modality"] == "optical_flow":
        raise PerceiverError("This is an optical-flow model, which reads two frames' patches, not files: call it "
                             "with perceiver_tf.flow_pixel_features, or serve its export.")
    if metadata["modality"] == "text":
        paths = [_text_path(item) for item in items]
        return (fill_masks(model, metadata, path) for path in paths)
    processor = processor_of(model)
    from_file = tf.function(lambda path: model_input_from_file(processor, path))
    return (_predict_one(model, metadata, processor, from_file, item, top_k, sample_rate) for item in items)


def _as_items(inputs) -> list:
    """`inputs` as a list of examples: paths and single-example arrays."""
    if isinstance(inputs, (str, os.PathLike)):
        return [inputs]
    if isinstance(inputs, np.ndarray) or hasattr(inputs, "numpy"):
        return list(np.asarray(inputs))
    items = list(inputs)
    if not items:
        raise OptionError("predict() got no inputs.")
    return items


def _text_path(item) -> str:
    if not isinstance(item, (str, os.PathLike)):
        raise OptionError("A masked language model's predict() reads UTF-8 text files: pass their paths.")
    return os.fspath(item)


def _predict_one(model, metadata: dict, processor, from_file, item, top_k: int, sample_rate: int | None) -> dict:
    """The dict of one input (a path or an array), or `{["file"], "error"}`."""
    import tensorflow as tf

    from perceiver_tf.data.errors import environment_problem, error_reason
    from perceiver_tf.data.model_inputs import model_input_from_array

    is_file = isinstance(item, (str, os.PathLike))
    named = {"file": os.fspath(item)} if is_file else {}
    try:
        example = (from_file(tf.constant(os.fspath(item))) if is_file
                   else model_input_from_array(processor, np.asarray(item), sample_rate))
    except (tf.errors.OpError, ValueError) as error:
        problem = environment_problem(error)
        if problem is not None:  # not this file's fault: every file would fail alike
            raise problem from None
        if not is_file:  # an array of the wrong kind is the caller's mistake, the same for every example
            raise OptionError(str(error)) from None
        return {**named, "error": f"cannot read {metadata['modality']} file: {error_reason(error)}"}
    line = {**named, **classify(model, metadata["class_names"], example, top_k)}
    if "error" not in line:
        line.update(_notes(metadata, processor, item, example, sample_rate))
    return line


def _notes(metadata: dict, processor, item, example, sample_rate: int | None) -> dict:
    """`{"conversions": [...], "unusual": [...]}` of a classified input, each only when not empty
    (`input_notes`): what preprocessing changed, and how the input differs from the training data."""
    from perceiver_tf.workflows.input_notes import conversions, raw_properties, unusual

    try:
        raw = raw_properties(processor.modality, item, sample_rate)
    except (OSError, ValueError):  # read once already; a property that cannot be read again is no note
        raw = {}
    notes = {"conversions": conversions(processor.config, raw),
             "unusual": unusual(metadata.get("input_statistics"), example)}
    return {key: value for key, value in notes.items() if value}


def classify(model, class_names: list[str], example, top_k: int) -> dict:
    """`{"top_k": [...], ["labels"]}` of one prepared example (a tensor, or a dict per input), or
    `{"error"}` when its input or output is not finite or outside the range the model was trained on."""
    from perceiver_tf.data.model_inputs import as_model_inputs
    from perceiver_tf.export.saved_model import model_outputs

    problem = non_finite_problem(example)
    if problem:
        return {"error": problem}
    outputs = model_outputs(model, as_model_inputs(model, example))
    if not bool(np.asarray(outputs["valid"])[0]):  # finite, but outside the range the model reads
        return {"error": "input values outside the range the model was trained on (see `valid` in "
                         "perceiver_tf.export.saved_model)"}
    probabilities = np.asarray(outputs["probabilities"], np.float64)[0]
    if not np.isfinite(probabilities).all():
        return {"error": "the model's probabilities are not finite (NaN or Inf) for this input"}
    best = np.argsort(-probabilities)[: min(top_k, len(class_names))]
    line = {"top_k": [{"class": class_names[i], "probability": round(float(probabilities[i]), 6)} for i in best]}
    if getattr(model, "multi_label", False):
        line["labels"] = [class_names[i] for i in np.flatnonzero(probabilities >= MULTI_LABEL_THRESHOLD)]
    return line


def non_finite_problem(example) -> str | None:
    """Why a prepared example (a tensor, or a dict per input) cannot be classified, or `None`:
    the model gives NaN for any NaN or Inf value, so such inputs are refused, not predicted."""
    parts = example.items() if isinstance(example, dict) else [("input", example)]
    bad = [name for name, value in parts if not np.isfinite(np.asarray(value, np.float64)).all()]
    return f"non-finite values (NaN or Inf) in the {', '.join(bad)} after preprocessing" if bad else None


def fill_masks(model, metadata: dict, path: str) -> dict:
    """The dict of one UTF-8 text file for a masked language model: `{"file", "text", "masks",
    "filled"}` (the text with every `[MASK]` token replaced by the most probable byte), or
    `{"file", "error"}` for a file that is unreadable, not UTF-8, too long or without a `[MASK]`."""
    from perceiver_tf.data.byte_tokenizer import ByteTokenizer

    tokenizer = ByteTokenizer()
    max_length = metadata["tokenizer"]["max_length"]
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        batch = tokenizer(text, max_length=max_length)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return {"file": path, "error": f"cannot read text file: {error}"}
    ids = batch["inputs"][0]
    masked = np.flatnonzero(ids == tokenizer.mask_id)
    if masked.size == 0:
        return {"file": path, "error": "no [MASK] token in the text: write [MASK] where a byte is to be predicted"}
    logits = np.asarray(model.predict_on_batch(batch))[0, : ids.shape[0]]
    filled = ids.copy()
    byte_logits = logits[:, tokenizer.num_special_tokens:]  # predict bytes, never special tokens
    filled[masked] = np.argmax(byte_logits[masked], axis=-1) + tokenizer.num_special_tokens
    length = int(batch["input_mask"][0].sum())
    return {"file": path, "text": text, "masks": int(masked.size),
            "filled": tokenizer.decode(filled[:length], skip_special_tokens=True)}
