"""`perceiver-tf predict`: top-k classes (by name) with probabilities, one JSON line per file.

A masked language model (converted with `perceiver-tf convert`) reads UTF-8 text files instead and
fills in their `[MASK]` tokens (`fill_masks`).
"""

from __future__ import annotations

import numpy as np

from perceiver_tf.commands.json_lines import json_line

#: A multi-label model reports every class whose probability reaches this.
MULTI_LABEL_THRESHOLD = 0.5


def run(args) -> int:
    import tensorflow as tf

    from perceiver_tf.commands.errors import CommandError
    from perceiver_tf.commands.model_files import (
        load_trained_model,
        model_input_from_file,
        processor_for,
    )

    model, metadata = load_trained_model(args.model)
    if metadata["modality"] == "optical_flow":
        raise CommandError(f"{args.model!r} is an optical-flow model, which reads two frames' patches, not files: "
                           "call it from Python (perceiver_tf.flow_pixel_features) or serve its export.")
    if metadata["modality"] == "text":
        lines = [fill_masks(model, metadata, path) for path in args.files]
        for line in lines:
            print(json_line(line))
        return 1 if any("error" in line for line in lines) else 0
    processor = processor_for(metadata)
    prepare = tf.function(lambda path: model_input_from_file(processor, path))
    failures = 0
    for path in args.files:
        line = predict_file(model, metadata, prepare, path, args.top_k)
        failures += "error" in line
        print(json_line(line))
    return 1 if failures else 0


def predict_file(model, metadata: dict, prepare, path: str, top_k: int) -> dict:
    """The JSON line of one file: `{"file", "top_k": [{"class", "probability"}], ["labels"]}`, or
    `{"file", "error"}` for a file that cannot be read or whose input or output is not finite."""
    import tensorflow as tf

    from perceiver_tf.commands.model_files import as_model_inputs, non_finite_problem
    from perceiver_tf.data.errors import environment_problem, error_reason
    from perceiver_tf.export.saved_model import model_outputs

    try:
        example = prepare(tf.constant(path))
    except (tf.errors.OpError, ValueError) as error:
        problem = environment_problem(error)
        if problem is not None:  # not this file's fault: every file would fail alike
            raise problem from None
        return {"file": path, "error": f"cannot read {metadata['modality']} file: {error_reason(error)}"}
    problem = non_finite_problem(example)
    if problem:
        return {"file": path, "error": problem}
    outputs = model_outputs(model, as_model_inputs(model, example))
    if not bool(np.asarray(outputs["valid"])[0]):  # finite, but outside the range the model reads
        return {"file": path, "error": "input values outside the range the model was trained on (see `valid` "
                                       "in perceiver_tf.export.saved_model)"}
    probabilities = np.asarray(outputs["probabilities"], np.float64)[0]
    if not np.isfinite(probabilities).all():
        return {"file": path, "error": "the model's probabilities are not finite (NaN or Inf) for this input"}
    class_names = metadata["class_names"]
    best = np.argsort(-probabilities)[: min(top_k, len(class_names))]
    line = {"file": path, "top_k": [
        {"class": class_names[i], "probability": round(float(probabilities[i]), 6)} for i in best]}
    if getattr(model, "multi_label", False):
        line["labels"] = [class_names[i] for i in np.flatnonzero(probabilities >= MULTI_LABEL_THRESHOLD)]
    return line


def fill_masks(model, metadata: dict, path: str) -> dict:
    """The JSON line of one UTF-8 text file for a masked language model: `{"file", "text", "masks",
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
