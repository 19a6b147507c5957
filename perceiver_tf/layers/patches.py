"""Non-overlapping patches over any number of index dims: 1-D audio, 2-D images, 3-D video."""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

from perceiver_tf.layers.common import register, require_positive_int


def normalize_patch_size(patch_size: int | Sequence[int], num_index_dims: int) -> tuple[int, ...]:
    """`patch_size` as one positive int per index dim (an int is used for every dim)."""
    if isinstance(patch_size, int) and not isinstance(patch_size, bool):
        patch_size = (patch_size,) * num_index_dims
    patch_size = tuple(patch_size)
    if len(patch_size) != num_index_dims:
        raise ValueError(
            f"`patch_size` needs one entry per index dim ({num_index_dims}). Received: patch_size={patch_size}"
        )
    for size in patch_size:
        require_positive_int(size, "patch_size")
    return patch_size


@register
class ExtractPatches(keras.layers.Layer):
    """Cut `(B, *index_dims, C)` into non-overlapping patches, one patch per output element.

    The output keeps a grid of index dims, so Fourier features can follow: raw audio
    `(B, 61440, 1)` with `patch_size=128` gives `(B, 480, 128)` (the paper's AudioSet input);
    video `(B, 32, 224, 224, 3)` with `patch_size=(2, 8, 8)` gives `(B, 16, 28, 28, 384)`.
    Patch channels are ordered `(p_1, ..., p_k, C)` row-major, as `tf.image.extract_patches`
    orders `(row, column, channel)` (DeepMind: `space_to_depth` / `conv_after_patching=False`).

    Args:
        patch_size: patch extent per index dim, or one int for all of them.

    Call arguments:
        inputs: `(B, d_1, ..., d_k, C)` with every `d_i` divisible by `patch_size[i]`.

    Returns:
        `(B, d_1 / p_1, ..., d_k / p_k, p_1 * ... * p_k * C)`.
    """

    def __init__(self, patch_size: int | Sequence[int], **kwargs):
        super().__init__(**kwargs)
        if isinstance(patch_size, (list, tuple)):
            patch_size = [require_positive_int(p, "patch_size") for p in patch_size]
        else:
            require_positive_int(patch_size, "patch_size")
        self.patch_size = patch_size

    def _patch_grid(self, inputs_shape) -> tuple[tuple[int, ...], tuple[int, ...]]:
        index_dims = tuple(inputs_shape[1:-1])
        if not index_dims or None in index_dims or inputs_shape[-1] is None:
            raise ValueError(
                f"{self.name} expects inputs (batch, *index_dims, channels) with known index dims "
                f"and channels. Received: inputs.shape={tuple(inputs_shape)}"
            )
        patch_size = normalize_patch_size(self.patch_size, len(index_dims))
        for axis, (dim, size) in enumerate(zip(index_dims, patch_size)):
            if dim % size:
                raise ValueError(
                    f"Index dim {axis + 1} of size {dim} is not divisible by its patch size {size}. "
                    f"Received: inputs.shape={tuple(inputs_shape)}, patch_size={patch_size}"
                )
        return tuple(d // p for d, p in zip(index_dims, patch_size)), patch_size

    def build(self, inputs_shape):
        self._patch_grid(inputs_shape)

    def call(self, inputs):
        grid, patch_size = self._patch_grid(inputs.shape)
        dims = list(inputs.shape[1:-1])
        x = inputs
        # One index dim at a time, last to first, each patch axis moved in front of the channels
        # gathered so far: channels end up (p_1, ..., p_k, C). Every step is a 5-D transpose, which
        # TFLite has as a builtin (one 2k+2-D transpose would not be, e.g. 8-D for video).
        for axis in reversed(range(len(dims))):
            channels = x.shape[-1]
            after = math.prod(dims[axis + 1 :])
            x = ops.reshape(x, (-1, grid[axis], patch_size[axis], after, channels))
            x = ops.transpose(x, (0, 1, 3, 2, 4))
            dims[axis] = grid[axis]
            x = ops.reshape(x, (ops.shape(inputs)[0], *dims, patch_size[axis] * channels))
        return x

    def compute_output_shape(self, inputs_shape):
        grid, patch_size = self._patch_grid(inputs_shape)
        return (inputs_shape[0], *grid, math.prod(patch_size) * inputs_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(patch_size=self.patch_size)
        return config
