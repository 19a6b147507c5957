"""`perceiver-tf evaluate`: accuracy (or mAP) and loss of a trained model on a data source (one JSON line)."""

from __future__ import annotations

from perceiver_tf.commands.json_lines import json_line


def run(args) -> int:
    import keras

    from perceiver_tf.commands.errors import CommandError, UsageError
    from perceiver_tf.commands.model_files import load_trained_model, processor_for
    from perceiver_tf.data import DataOptions, PipelineOptions, batched, load_source
    from perceiver_tf.training.trainer import validation_map

    model, metadata = load_trained_model(args.model)
    data_spec = args.data or metadata.get("data")
    if data_spec is None:
        raise UsageError(f"{args.model!r} does not record its training data; pass --data.")
    processor = processor_for(metadata)
    multi_label = getattr(model, "multi_label", False)
    options = DataOptions(modality=processor.modality, processor=processor, skip_bad_files=args.skip_bad_files,
                          multi_label=multi_label)
    try:
        source = load_source(data_spec, options).relabel(metadata["class_names"])
    except ValueError as error:
        raise CommandError(f"--data {data_spec!r}: {error}") from None
    split = args.split if args.split != "auto" else ("val" if source.explicit_val else "all")
    # Cached here, not in `batched`: the evaluation pass decodes each file once and the count reads the cache.
    examples = (source.val if split == "val" else source.train.concatenate(source.val)).cache()
    num_classes = len(metadata["class_names"])
    # Multi-label models read multi-hot rows; class ids become one-hot rows only for a model saved
    # compiled with Keras' one-hot loss (`perceiver_tf`'s own loss takes class ids too).
    one_hot = multi_label or isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    options = PipelineOptions(args.batch_size, one_hot=one_hot, cache=False)
    data = batched(examples, source.processor, False, num_classes, options)
    logs = model.evaluate(data, verbose=0, return_dict=True)
    count = int(examples.reduce(0, lambda n, _: n + 1))
    if multi_label:
        scores = {"map": validation_map(model, data), "pr_auc": float(logs["pr_auc"])}
    else:
        scores = {"accuracy": float(logs["accuracy"])}
    print(json_line({**scores, "loss": float(logs["loss"]), "examples": count,
                      "split": split, "data": data_spec, "model": args.model}))
    return 0
