"""Single-label cross-entropy and accuracy that take class ids or one-hot / soft rows alike.

A classifier trained on one-hot rows (MixUp, CutMix, label smoothing) and saved compiled must still
`fit` and `evaluate` on class ids after `keras.models.load_model`: the label format is told from the
labels' shape, not fixed at compile time. Class ids: `(B,)` or `(B, 1)`; rows: `(B, K)`, K = the
number of classes (>= 2).
"""

from __future__ import annotations

import keras

from perceiver_tf.layers.common import register


def _are_class_ids(y_true, y_pred) -> bool:
    """Whether `y_true` holds class ids `(B,)` / `(B, 1)` rather than rows `(B, K)` (static shapes)."""
    return len(y_true.shape) < len(y_pred.shape) or (y_true.shape[-1] == 1 and y_pred.shape[-1] != 1)


def _as_rows(y_true, y_pred):
    """Class ids -> one-hot rows shaped like `y_pred`; rows unchanged."""
    if not _are_class_ids(y_true, y_pred):
        return y_true
    ids = keras.ops.reshape(keras.ops.cast(y_true, "int32"), keras.ops.shape(y_pred)[:-1])
    return keras.ops.one_hot(ids, y_pred.shape[-1], dtype=y_pred.dtype)


@register
class ClassCrossentropy(keras.losses.Loss):
    """Categorical cross-entropy, with optional label smoothing, for class ids or rows (see the module).

    Args:
        from_logits: `y_pred` are logits `(B, K)` (else probabilities).
        label_smoothing: in [0, 1): the targets mix `1 - label_smoothing` of the label with a uniform
            distribution (applied to class ids too).
    """

    def __init__(self, from_logits: bool = True, label_smoothing: float = 0.0,
                 reduction: str = "sum_over_batch_size", name: str = "class_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits, self.label_smoothing = from_logits, float(label_smoothing)

    def call(self, y_true, y_pred):
        if _are_class_ids(y_true, y_pred) and not self.label_smoothing:
            return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)
        return keras.losses.categorical_crossentropy(_as_rows(y_true, y_pred), y_pred, from_logits=self.from_logits,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


def class_accuracy(y_true, y_pred):
    """1.0 where the top class of `y_pred` is the label's class (for rows: the largest entry), else 0.0: `(B,)`."""
    if _are_class_ids(y_true, y_pred):
        return keras.metrics.sparse_categorical_accuracy(y_true, y_pred)
    return keras.metrics.categorical_accuracy(y_true, y_pred)


@register
class ClassAccuracy(keras.metrics.MeanMetricWrapper):
    """Accuracy for class ids or rows (see the module); named "accuracy" by default."""

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(fn=class_accuracy, name=name, dtype=dtype)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}
