"""Flattening an input's index dimensions (H, W, T, ...) into one element axis M."""

from __future__ import annotations

import math

import keras
from keras import ops

from perceiver_tf.layers.common import register


def static_index_dims(inputs_shape, layer_name: str) -> tuple[int, ...]:
    """The index dims of `(B, *index_dims, C)`; raise if any is unknown or the rank is < 3."""
    if len(inputs_shape) < 3:
        raise ValueError(
            f"{layer_name} expects inputs of shape (batch, *index_dims, channels) with at least "
            f"one index dim. Received: inputs.shape={tuple(inputs_shape)}"
        )
    index_dims = tuple(inputs_shape[1:-1])
    if any(d is None for d in index_dims):
        raise ValueError(
            f"{layer_name} needs static index dims to lay out its positions. "
            f"Received: inputs.shape={tuple(inputs_shape)}"
        )
    return index_dims


def flatten_index_dims(inputs):
    """`(B, *index_dims, C)` -> `(B, prod(index_dims), C)`; unknown M is allowed for rank 3."""
    if len(inputs.shape) == 3:
        return inputs
    elements = math.prod(inputs.shape[1:-1])
    return ops.reshape(inputs, (ops.shape(inputs)[0], elements, inputs.shape[-1]))


def flattened_shape(inputs_shape) -> tuple:
    """Static-shape counterpart of `flatten_index_dims`."""
    if len(inputs_shape) == 3:
        return tuple(inputs_shape)
    return (inputs_shape[0], math.prod(inputs_shape[1:-1]), inputs_shape[-1])


@register
class FlattenIndexDims(keras.layers.Layer):
    """No position encoding: only flatten `(B, *index_dims, C)` to `(B, M, C)`.

    With no position features the model is fully permutation invariant, so it cannot use the
    input's spatial structure (the paper's "no position" ablation).
    """

    def call(self, inputs):
        return flatten_index_dims(inputs)

    def compute_output_shape(self, inputs_shape):
        return flattened_shape(inputs_shape)
