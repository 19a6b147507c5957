"""`SequenceAdapter`: multichannel time series `(T, C)` (sensor streams, IMU, haptics) as tokens + positions."""

from __future__ import annotations

import math

import keras
from keras import ops

from perceiver_tf.adapters.grid import GridAdapter
from perceiver_tf.layers.common import register, require_positive_int
from perceiver_tf.layers.patches import ExtractPatches
from perceiver_tf.model_options import SEQUENCE_TOKENS

#: Kernel of the "conv" stem's Conv1D, in time steps (DeepMind's image stem: 7 x 7).
CONV_KERNEL_SIZE = 7
#: The "fcn" stem's Conv1D layers, `(kernel, filters)` (the last one's filters: `preprocessor_channels`):
#: the kernels of Wang et al. 2017's FCN (8 / 5 / 3), at half its widths (128 / 256 / 128).
FCN_LAYERS = ((8, 64), (5, 128), (3, None))


@register
class SequenceAdapter(GridAdapter):
    """Time series `(T, C)` of any channel count -> tokens with Fourier features of their time (and channel).

    Wearable and IMU streams, haptics, or any 1-D signal. `sequence_tokens` picks the tokens:

    - "steps": one token per time step, `(T, C)` (a single cross-attention then sees one value per
      channel per token: nothing from which to read a local frequency or shape).
    - "patches": `patch_size` consecutive steps of every channel -> one token, `(T/p, p * C)`
      (DeepMind's `prep_type="patches"` along time).
    - "conv": a 1-D convolutional stem (Conv1D of `CONV_KERNEL_SIZE` steps, `preprocessor_channels`
      filters -> LayerNorm -> ReLU -> max-pool of `patch_size` steps, stride `patch_size`), the 1-D
      analogue of DeepMind's image `Conv2DDownsample`: `(T/p, preprocessor_channels)`. LayerNorm
      (per token) instead of BatchNorm, so that padded steps never enter any statistic.
    - "channels": every channel's `patch_size` steps are a token of their own, `(T/p * C, p)`,
      row-major (time, channel), with 2-D Fourier features of (time, channel index).

    T is zero-padded up to a multiple of `patch_size` first. Variable-length recordings: with the
    backbone's `use_input_mask=True` the mask is per time step `(B, T)` (True on real steps);
    masked steps are zeroed before the tokens are made (so what the padding holds never matters)
    and a token is kept when any of its steps is real (`element_mask`).

    Args:
        input_shape: `(time, channels)`.
        sequence_tokens: one of `SEQUENCE_TOKENS`; `None`: "patches" when `patch_size` is given,
            else "steps".
        patch_size: time steps per token (the "conv" stem's pooling stride); required by "patches",
            default 1 for "conv" and "channels".
        preprocessor_channels: filters of the "conv" stem.
        **kwargs: `GridAdapter` arguments (`num_bands`, `position_encoding`, ...).

    Call arguments:
        inputs: `(B, T, C)`.
        input_mask: optional bool `(B, T)`, True on real steps.

    Returns:
        `(B, M, C')`: M = T, ceil(T / p) or ceil(T / p) * C tokens.
    """

    input_kind = "sequence"
    example_rank = 2
    layout = "(time, channels)"
    reads_input_mask = True

    def __init__(self, input_shape, sequence_tokens: str | None = None, patch_size: int | None = None,
                 preprocessor_channels: int = 64, **kwargs):
        super().__init__(input_shape, **kwargs)
        tokens = sequence_tokens or ("patches" if patch_size is not None else "steps")
        if tokens not in SEQUENCE_TOKENS:
            raise ValueError(f"Unknown sequence_tokens {tokens!r}. Valid: {', '.join(SEQUENCE_TOKENS)}")
        if tokens == "steps" and patch_size not in (None, 1):
            raise ValueError(f"sequence_tokens='steps' makes one token per step; patch_size={patch_size!r} groups "
                             "steps: pass sequence_tokens='patches' (or 'conv' / 'channels') with it.")
        if tokens == "patches" and patch_size is None:
            raise ValueError("sequence_tokens='patches' needs `patch_size` (time steps per token), e.g. patch_size=8.")
        self.sequence_tokens = tokens
        self.patch_size = require_positive_int(patch_size or 1, "patch_size") if tokens != "steps" else None
        self.preprocessor_channels = require_positive_int(preprocessor_channels, "preprocessor_channels")
        steps, self.num_channels = self.example_shape
        self.padded_steps = math.ceil(steps / (self.patch_size or 1)) * (self.patch_size or 1)
        if tokens == "patches":
            self.patches = ExtractPatches(self.patch_size, dtype=self.dtype_policy, name="patches")
        elif tokens == "channels":
            self.patches = ExtractPatches([self.patch_size, 1], dtype=self.dtype_policy, name="patches")
        self.conv_stem = None
        if tokens in ("conv", "fcn"):
            layers = [(CONV_KERNEL_SIZE, None)] if tokens == "conv" else FCN_LAYERS
            self.conv_stem = []
            for index, (kernel, filters) in enumerate(layers):
                suffix = f"_{index}" if index else ""
                self.conv_stem += [
                    keras.layers.Conv1D(filters or preprocessor_channels, kernel, padding="same", use_bias=False,
                                        dtype=self.dtype_policy, name=f"conv_stem{suffix}"),
                    keras.layers.LayerNormalization(epsilon=1e-5, dtype=self.dtype_policy,
                                                    name=f"conv_stem_norm{suffix}"),
                    keras.layers.Activation("relu", dtype=self.dtype_policy, name=f"conv_stem_relu{suffix}"),
                ]
            self.conv_stem.append(keras.layers.MaxPooling1D(self.patch_size, strides=self.patch_size, padding="valid",
                                                            dtype=self.dtype_policy, name="conv_stem_pool"))

    def stem(self, inputs):
        """`(B, T, C)` -> zero-padded to a multiple of `patch_size` -> the conv stem, or `(B, T', C, 1)` per channel."""
        x = inputs
        if self.padded_steps > self.example_shape[0]:
            x = ops.pad(x, [[0, 0], [0, self.padded_steps - self.example_shape[0]], [0, 0]])
        if self.sequence_tokens == "channels":
            return ops.expand_dims(x, -1)
        for layer in self.conv_stem or []:
            x = layer(x)
        return x

    def stem_output_shape(self, inputs_shape) -> tuple:
        batch = inputs_shape[0]
        if self.sequence_tokens == "channels":
            return (batch, self.padded_steps, self.num_channels, 1)
        if self.conv_stem:
            return (batch, self.padded_steps // self.patch_size, self.preprocessor_channels)
        return (batch, self.padded_steps, self.num_channels)

    def build(self, inputs_shape):
        shape = (inputs_shape[0], self.padded_steps, self.num_channels)
        for layer in self.conv_stem or []:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        super().build(inputs_shape)

    def call(self, inputs, input_mask=None):
        if input_mask is not None:  # padded steps hold zeros, whatever the recording was padded with
            inputs = inputs * ops.expand_dims(ops.cast(input_mask, inputs.dtype), -1)
        return super().call(inputs)

    def mask_length(self) -> int:
        """The mask is per time step: `T` entries."""
        return self.example_shape[0]

    def element_mask(self, mask):
        """Step mask `(B, T)` -> token mask `(B, M)`: a token is kept when any of its steps is real."""
        if self.patch_size is None:
            return mask
        tokens = self.padded_steps // self.patch_size
        padded = ops.pad(ops.cast(mask, "int32"), [[0, 0], [0, self.padded_steps - self.example_shape[0]]])
        kept = ops.max(ops.reshape(padded, (-1, tokens, self.patch_size)), axis=-1) > 0
        if self.sequence_tokens == "channels":  # tokens in (time, channel) row-major order
            kept = ops.reshape(ops.repeat(kept, self.num_channels, axis=1), (-1, tokens * self.num_channels))
        return kept

    def get_config(self):
        config = super().get_config()
        config.update(sequence_tokens=self.sequence_tokens, preprocessor_channels=self.preprocessor_channels)
        return config
