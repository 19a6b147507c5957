"""`perceiver-tf predict`: top-k classes (by name) with probabilities, one JSON line per file."""

from __future__ import annotations

import json

import numpy as np

#: A multi-label model reports every class whose probability reaches this.
MULTI_LABEL_THRESHOLD = 0.5


def run(args) -> int:
    import tensorflow as tf

    from perceiver_tf.commands.model_files import (
        as_model_inputs,
        first_error_line,
        load_trained_model,
        model_input_from_file,
        processor_for,
    )
    from perceiver_tf.export.saved_model import model_outputs

    model, metadata = load_trained_model(args.model)
    processor = processor_for(metadata)
    class_names = metadata["class_names"]
    top_k = max(1, min(args.top_k, len(class_names)))
    prepare = tf.function(lambda path: model_input_from_file(processor, path))
    failures = 0
    for path in args.files:
        try:
            example = prepare(tf.constant(path))
        except (tf.errors.OpError, ValueError) as error:
            failures += 1
            message = f"cannot read {metadata['modality']} file: {first_error_line(error)}"
            print(json.dumps({"file": path, "error": message}))
            continue
        probabilities = np.asarray(model_outputs(model, as_model_inputs(model, example))["probabilities"], np.float64)[0]
        best = np.argsort(-probabilities)[:top_k]
        line = {"file": path, "top_k": [
            {"class": class_names[i], "probability": round(float(probabilities[i]), 6)} for i in best]}
        if getattr(model, "multi_label", False):
            line["labels"] = [class_names[i] for i in np.flatnonzero(probabilities >= MULTI_LABEL_THRESHOLD)]
        print(json.dumps(line))
    return 1 if failures else 0
