"""`perceiver-tf evaluate`: accuracy and loss of a trained model on a data source (one JSON line)."""

from __future__ import annotations

import json


def run(args) -> int:
    from perceiver_tf.commands.model_files import load_trained_model, processor_for
    from perceiver_tf.data import PipelineOptions, batched, load_source

    model, metadata = load_trained_model(args.model)
    _, options = processor_for(metadata)
    options.skip_bad_files = args.skip_bad_files
    try:
        source = load_source(args.data, options).relabel(metadata["class_names"])
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    split = args.split if args.split != "auto" else ("val" if source.explicit_val else "all")
    # Cached here, not in `batched`: the evaluation pass decodes each file once and the count reads the cache.
    examples = (source.val if split == "val" else source.train.concatenate(source.val)).cache()
    num_classes = len(metadata["class_names"])
    one_hot = model.loss.__class__.__name__ == "CategoricalCrossentropy"
    options = PipelineOptions(args.batch_size, one_hot=one_hot, cache=False)
    data = batched(examples, source.processor, False, num_classes, options)
    logs = model.evaluate(data, verbose=0, return_dict=True)
    count = int(examples.reduce(0, lambda n, _: n + 1))
    print(json.dumps({"accuracy": float(logs["accuracy"]), "loss": float(logs["loss"]), "examples": count,
                      "split": split, "data": args.data, "model": args.model}))
    return 0
