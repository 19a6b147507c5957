"""`perceiver_tf.evaluate`: accuracy (or mAP) and loss of a trained classifier on a data source."""

from __future__ import annotations

import os

from perceiver_tf.errors import OptionError, PerceiverError
from perceiver_tf.option_names import option_name
from perceiver_tf.workflows.model_files import trained_model
from perceiver_tf.workflows.values import check_choice, positive_int

#: The values of `split`.
SPLITS = ("auto", "val", "all")


def evaluate(model, data: str | os.PathLike | None = None, split: str = "auto", batch_size: int = 64,
             skip_bad_files: bool = False) -> dict:
    """Score a trained classifier on a data source, as `perceiver-tf evaluate` does.

    Args:
        model: a `keras.Model` from `perceiver_tf.train` or the path of its `model.keras`.
        data: a source as `train` takes it; default the model's own training data (its metadata).
        split: "val" (the source's validation split), "all" (every example), or "auto": "val" when
            the source has its own validation split, else "all".
        batch_size: examples per evaluation batch.
        skip_bad_files: leave out (and count) files that cannot be read instead of failing.

    Returns:
        `{"accuracy" (or "map" and "pr_auc" for multi-label models), "loss", "examples", "split", "data"}`.

    Raises:
        OptionError: no data given for a model that does not record its own, a bad split or batch size.
        PerceiverError: a model or data that cannot be read (one line).
    """
    import keras

    from perceiver_tf.data import DataOptions, PipelineOptions, batched, load_source
    from perceiver_tf.data.model_inputs import processor_of
    from perceiver_tf.training.trainer import validation_map

    check_choice("split", split, SPLITS)
    positive_int.check("batch_size", batch_size)
    model, metadata = trained_model(model)
    data_spec = os.fspath(data) if data is not None else metadata.get("data")
    if data_spec is None or data_spec == "arrays":
        raise OptionError(f"This model does not record a data source it can be read again from; pass "
                          f"{option_name('data')}.")
    processor = processor_of(model)
    multi_label = getattr(model, "multi_label", False)
    options = DataOptions(modality=processor.modality, processor=processor, skip_bad_files=skip_bad_files,
                          multi_label=multi_label)
    try:
        source = load_source(data_spec, options).relabel(metadata["class_names"])
    except ValueError as error:
        raise PerceiverError(f"{option_name('data')} {data_spec!r}: {error}") from None
    split = split if split != "auto" else ("val" if source.explicit_val else "all")
    # Cached here, not in `batched`: the evaluation pass decodes each file once and the count reads the cache.
    examples = (source.val if split == "val" else source.train.concatenate(source.val)).cache()
    num_classes = len(metadata["class_names"])
    # Multi-label models read multi-hot rows; class ids become one-hot rows only for a model saved
    # compiled with Keras' one-hot loss (`perceiver_tf`'s own loss takes class ids too).
    one_hot = multi_label or isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    batches = batched(examples, source.processor, False, num_classes,
                      PipelineOptions(batch_size, one_hot=one_hot, cache=False))
    logs = model.evaluate(batches, verbose=0, return_dict=True)
    count = int(examples.reduce(0, lambda n, _: n + 1))
    if multi_label:
        scores = {"map": validation_map(model, batches), "pr_auc": float(logs["pr_auc"])}
    else:
        scores = {"accuracy": float(logs["accuracy"])}
    return {**scores, "loss": float(logs["loss"]), "examples": count, "split": split, "data": data_spec}
