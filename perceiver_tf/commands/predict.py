"""`perceiver-tf predict`: top-k classes (by name) with probabilities, one JSON line per file."""

from __future__ import annotations

import json

import numpy as np


def run(args) -> int:
    import tensorflow as tf

    from perceiver_tf.commands.model_files import (
        first_error_line,
        load_trained_model,
        model_input_from_file,
        processor_for,
    )

    model, metadata = load_trained_model(args.model)
    processor, _ = processor_for(metadata)
    class_names = metadata["class_names"]
    top_k = max(1, min(args.top_k, len(class_names)))
    prepare = tf.function(lambda path: model_input_from_file(processor, path))
    failures = 0
    for path in args.files:
        try:
            inputs = prepare(tf.constant(path))[None]
        except (tf.errors.OpError, ValueError) as error:
            failures += 1
            message = f"cannot read {metadata['modality']} file: {first_error_line(error)}"
            print(json.dumps({"file": path, "error": message}))
            continue
        logits = np.asarray(model(inputs, training=False), np.float64)[0]
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        best = np.argsort(-probabilities)[:top_k]
        print(json.dumps({"file": path, "top_k": [
            {"class": class_names[i], "probability": round(float(probabilities[i]), 6)} for i in best]}))
    return 1 if failures else 0
