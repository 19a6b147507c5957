"""Source kind `tfds`: `tfds:NAME[:SPLIT]`, a TensorFlow Datasets classification dataset via
`tfds.load` (`tensorflow_datasets` is imported only to read one)."""

from __future__ import annotations

import tensorflow as tf

from perceiver_tf.data.options import DataOptions
from perceiver_tf.data.processor_factory import make_processor
from perceiver_tf.data.source import DataSource, register_source
from perceiver_tf.data.splits import hashed_split
from perceiver_tf.option_names import option

#: What a spec of this kind starts with.
PREFIX = "tfds:"

#: Held-out splits tried, in order, when the dataset has them.
HELD_OUT_SPLITS = ("validation", "test")


def _modality(feature) -> str:
    import tensorflow_datasets as tfds

    if isinstance(feature, tfds.features.Image):
        return "image"
    if isinstance(feature, tfds.features.Audio):
        return "audio"
    if feature.shape and feature.shape[-1] == 3 and len(feature.shape) == 2:
        return "points"
    raise ValueError(f"Unsupported TFDS input feature {feature!r}: expected an Image, Audio or (n, 3) points.")


def load_tfds(spec: str, options: DataOptions) -> DataSource:
    """Load `tfds:NAME[:SPLIT]` as supervised `(input, label)` pairs.

    The training split is SPLIT (default "train"); validation is the dataset's "validation"
    or "test" split, or a seeded hashed `options.validation_fraction` of the training split.

    Raises:
        ValueError: an unknown dataset name (listing close matches) or a non-classification dataset.
    """
    import tensorflow_datasets as tfds

    name, _, split = spec.removeprefix(PREFIX).partition(":")
    try:
        builder = tfds.builder(name)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"Unknown TFDS dataset {name!r} in {option('data', spec, repr(spec))}. "
                         f"{str(error).splitlines()[0]}") from None
    info = builder.info
    if not info.supervised_keys or len(info.supervised_keys) != 2:
        raise ValueError(f"TFDS dataset {name!r} has no (input, label) supervised keys; it is not a classification set.")
    input_key, label_key = info.supervised_keys
    label_feature = info.features[label_key]
    if not hasattr(label_feature, "names"):
        raise ValueError(f"TFDS dataset {name!r}: label feature {label_key!r} is not a ClassLabel.")
    input_feature = info.features[input_key]
    modality = options.modality or _modality(input_feature)
    train_split = split or "train"
    held_out = next((s for s in HELD_OUT_SPLITS if s in info.splits and s != train_split), None)
    load = lambda s: tfds.load(name, split=s, as_supervised=True, shuffle_files=False)  # noqa: E731
    train = load(train_split)
    val = load(held_out) if held_out else None
    if val is None:
        train, val = hashed_split(train, options.validation_fraction, options.seed)
    processor = make_processor(modality, options, tuple(input_feature.shape))
    if modality == "audio":
        rate = getattr(input_feature, "sample_rate", None) or options.sample_rate
        decode = lambda x, y: (processor.from_decoded(x, rate), tf.cast(y, tf.int32))  # noqa: E731
    else:
        decode = lambda x, y: (processor.from_decoded(x), tf.cast(y, tf.int32))  # noqa: E731
    count = lambda s: info.splits[s].num_examples if s in info.splits else None  # noqa: E731
    return DataSource(
        train.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True),
        val.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True),
        list(label_feature.names), processor,
        count(train_split) if held_out else None, count(held_out) if held_out else None,
        explicit_val=held_out is not None,
    )


register_source("tfds", lambda spec: spec.startswith(PREFIX), load_tfds, f"'{PREFIX}NAME[:SPLIT]'")
