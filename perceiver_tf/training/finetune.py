"""Fine-tuning: a new classifier that starts from a trained model's weights.

A model reloaded with `keras.models.load_model` brings back its optimizer at the end of its cosine
schedule (learning rate 0): `fit` would change nothing (`PerceiverTask.fit` warns). Fine-tune it
instead with a fresh classifier and a fresh optimizer:

    >>> trained = keras.models.load_model("saved_models/digits/model.keras")  # doctest: +SKIP
    >>> model = classifier_from_trained(trained, class_names=["0", "1", "2"])  # doctest: +SKIP
    >>> compile_classifier(model, total_steps, learning_rate=1e-4)  # doctest: +SKIP
    >>> model.fit(...)  # doctest: +SKIP

`perceiver-tf train --init-from MODEL.keras [--freeze-backbone]` does the same from the command line.
"""

from __future__ import annotations

import keras

from perceiver_tf.models.perceiver_backbone import PerceiverBackbone
from perceiver_tf.models.perceiver_classifier import PerceiverClassifier
from perceiver_tf.models.perceiver_task import PerceiverTask

#: `PerceiverClassifier` arguments a new head takes over from a trained classifier.
HEAD_KEYS = ("decoder", "activation", "head_kernel_initializer", "query_channels", "num_decoder_heads")


def trained_class_names(model: keras.Model) -> list[str] | None:
    """The class names a trained model records in its metadata, or `None`."""
    names = getattr(model, "metadata", {}).get("class_names")
    return [str(name) for name in names] if names is not None else None


def reuses_head(model: keras.Model, num_classes: int | None = None, class_names=None,
                multi_label: bool | None = None) -> bool:
    """Whether `classifier_from_trained` keeps `model`'s head: `model` is a `PerceiverClassifier` with
    the same class count, the same class names in the same order (when both sides name them) and
    the same single/multi-label kind."""
    if not isinstance(model, PerceiverClassifier):
        return False
    num_classes = len(class_names) if num_classes is None and class_names is not None else num_classes
    if num_classes is not None and num_classes != model.num_classes:
        return False
    known = trained_class_names(model)
    if class_names is not None and known is not None and [str(c) for c in class_names] != known:
        return False
    return multi_label is None or bool(multi_label) == model.multi_label


def head_summary(model: keras.Model, num_classes: int, class_names=None, multi_label: bool | None = None) -> str:
    """One phrase for a training log: "the model's head (10 classes)" or "new head for 3 classes (the
    model had 10)"."""
    if reuses_head(model, num_classes, class_names, multi_label):
        return f"the model's head ({num_classes} classes)"
    had = getattr(model, "num_classes", None)
    if had is None:
        return f"new head for {num_classes} classes (the model had no classification head)"
    if had != num_classes:
        return f"new head for {num_classes} classes (the model had {had})"
    if multi_label is not None and bool(multi_label) != model.multi_label:
        kind = "multi-label" if model.multi_label else "single-label"
        return f"new head for {num_classes} classes (the model's were {kind})"
    return f"new head for {num_classes} classes (the model's {had} classes have other names or another order)"


def copy_backbone(backbone: PerceiverBackbone, trainable: bool = True) -> PerceiverBackbone:
    """A new `PerceiverBackbone` with `backbone`'s config and a copy of its weights (no variable is
    shared: the trained model stays as it was). Build it inside a distribution strategy's scope to
    place its variables there."""
    config = {**backbone.get_config(), "trainable": trainable}
    copy = PerceiverBackbone.from_config(config)
    copy.set_weights(backbone.get_weights())
    return copy


def classifier_from_trained(
    model: keras.Model,
    num_classes: int | None = None,
    class_names=None,
    freeze_backbone: bool = False,
    multi_label: bool | None = None,
    metadata: dict | None = None,
    name: str | None = None,
) -> PerceiverClassifier:
    """A new (uncompiled) classifier on a copy of a trained model's backbone, to fine-tune.

    The head is `model`'s own (a copy of its weights) when the classes are the same
    (`reuses_head`: same count, same names in the same order, same single/multi-label kind);
    otherwise a new head for `num_classes`, of the same kind (`HEAD_KEYS`: mean-pool or query
    decoder, activation), initialised as in a fresh model. The architecture, dtype policy and
    input shape are `model`'s: read the data with its preprocessing
    (`model.preprocessor`, which the new model owns too).

    Compile the result with a fresh optimizer (`compile_classifier`, whose `make_optimizer`
    also keeps weight decay off biases, LayerNorm and position tables); a smaller learning
    rate than from scratch (e.g. 1e-4) usually suits fine-tuning.

    Args:
        model: a trained `PerceiverClassifier` (or any `PerceiverTask`: then the head is new),
            e.g. from `keras.models.load_model`.
        num_classes: classes of the new data (default: `len(class_names)`, else `model`'s).
        class_names: the new data's class names, in label order (default: `model`'s when
            `num_classes` is too).
        freeze_backbone: train only the head (`backbone.trainable = False`; saved with the model).
        multi_label: the new data's labels are multi-hot (default: as `model`).
        metadata: saved with the new model, over `model.metadata` (with `class_names` and
            `multi_label` updated); e.g. `{"init_from": path, "data": ...}`.
        name: the new model's name (default: Keras').

    Returns:
        A `PerceiverClassifier` whose weights start from `model`'s.

    Raises:
        ValueError: `model` has no `PerceiverBackbone`, or `num_classes` and `class_names` disagree.
    """
    if not isinstance(model, PerceiverTask):
        raise ValueError(f"`model` must be a perceiver_tf model on a PerceiverBackbone (a PerceiverClassifier "
                         f"from `perceiver-tf train`). Received: {type(model).__name__}")
    if class_names is not None:
        class_names = [str(c) for c in class_names]
        if num_classes is not None and num_classes != len(class_names):
            raise ValueError(f"`num_classes` ({num_classes}) must be the number of `class_names` ({len(class_names)}).")
        num_classes = len(class_names)
    trained = model if isinstance(model, PerceiverClassifier) else None
    if num_classes is None:
        if trained is None:
            raise ValueError("`model` has no classification head: pass `num_classes` or `class_names`.")
        num_classes = trained.num_classes
    if class_names is None and trained is not None and num_classes == trained.num_classes:
        class_names = trained_class_names(model)
    if multi_label is None:
        multi_label = trained.multi_label if trained is not None else False
    keep_head = reuses_head(model, num_classes, class_names, multi_label)

    head_kwargs = {key: getattr(trained, key) for key in HEAD_KEYS} if trained is not None else {}
    if multi_label and head_kwargs.get("activation") == "softmax":
        head_kwargs["activation"] = None  # logits: a softmax head does not score independent labels
    new_metadata = dict(getattr(model, "metadata", {}))
    new_metadata.pop("class_names", None)  # the trained model's; the new ones, when known, replace them
    if class_names is not None:
        new_metadata["class_names"] = list(class_names)
    new_metadata = {**new_metadata, "multi_label": bool(multi_label), **(metadata or {})}

    backbone = copy_backbone(model.backbone, trainable=not freeze_backbone)
    extra = {"name": name} if name else {}
    classifier = PerceiverClassifier(backbone, num_classes, multi_label=multi_label, metadata=new_metadata,
                                     **head_kwargs, **extra)
    if keep_head:
        classifier.head.set_weights(trained.head.get_weights())
    return classifier
