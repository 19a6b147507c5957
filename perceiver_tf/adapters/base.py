"""`InputAdapter`: the layer that turns one modality's examples into a Perceiver byte array.

An adapter is DeepMind's `input_preprocessor` as a Keras layer: it owns everything that is
specific to a modality (patching, convolutional stems, position features) so that the encoder
never needs to know what it reads. A new modality is one subclass (README, "Backbone,
adapters, tasks", has a complete one that the tests run): set `input_kind`, `example_rank` and
`layout`, implement `call` -> `(B, M, C)` and `compute_output_shape`, register it for Keras
serialisation, and pass it to `PerceiverBackbone(adapters=...)`.
"""

from __future__ import annotations

from typing import ClassVar

import keras

from perceiver_tf.layers.common import register


@register
class InputAdapter(keras.layers.Layer):
    """Base class of the input adapters: one example `(B, *input_shape)` -> byte array `(B, M, C)`.

    Subclasses set the class attributes, implement `call` and `compute_output_shape`, and may
    override `element_grid` (how the M byte-array elements are laid out, for attention maps).
    Adapters do not autocast their inputs under mixed precision: positions are computed from
    the exact (float32) coordinates, and the byte array is cast to the compute dtype at the end.

    Class attributes:
        input_kind: the modality name used by `make_adapter` and `PerceiverBackbone(input_kind=...)`.
        example_rank: rank of one example (batch excluded); `None` accepts any rank >= 2.
        layout: the example's axes in words, for error messages.
        variable_axes: axes (0-based, batch excluded) that may be `None` (a variable element count).
        reads_input_mask: `call` takes `input_mask=` (the backbone's element mask of this input, shaped
            `(B, mask_length())`) and `element_mask` maps it to the byte array's elements.

    Args:
        input_shape: one example's shape without the batch axis, e.g. `(224, 224, 3)`.
        example_dtype: dtype of the model input that feeds this adapter.

    Call arguments:
        inputs: `(B, *input_shape)`.

    Returns:
        The byte array `(B, M, C)` in the compute dtype.
    """

    input_kind: ClassVar[str] = "custom"
    example_rank: ClassVar[int | None] = None
    layout: ClassVar[str] = "(elements, channels)"
    variable_axes: ClassVar[tuple[int, ...]] = ()
    reads_input_mask: ClassVar[bool] = False

    def __init__(self, input_shape, example_dtype: str = "float32", **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.example_shape = self._validated_shape(input_shape)
        self.example_dtype = example_dtype

    def _validated_shape(self, input_shape) -> tuple:
        if not isinstance(input_shape, (list, tuple)):
            raise ValueError(
                f"{type(self).__name__}: `input_shape` must be a tuple of one example's axes {self.layout}. "
                f"Received: input_shape={input_shape!r}"
            )
        shape = tuple(input_shape)
        rank_ok = len(shape) == self.example_rank if self.example_rank else len(shape) >= 2
        if not rank_ok:
            expected = f"rank {self.example_rank}" if self.example_rank else "rank >= 2"
            raise ValueError(
                f"input_kind={self.input_kind!r} expects examples of {expected} {self.layout}. "
                f"Received: input_shape={shape} (rank {len(shape)})"
            )
        for axis, dim in enumerate(shape):
            if dim is None and axis in self.variable_axes:
                continue
            if dim is None:
                raise ValueError(
                    f"input_kind={self.input_kind!r} needs axis {axis} of {self.layout} to be known (only axes "
                    f"{list(self.variable_axes) or 'none'} may be None). Received: input_shape={shape}"
                )
            if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
                raise ValueError(f"input_shape entries must be positive ints or None. Received: input_shape={shape}")
        return shape

    def check_example_shape(self, received: tuple, model_name: str) -> None:
        """Raise a ValueError naming the axis when `received` (batch excluded) does not fit."""
        expected = self.example_shape
        problem = None
        if len(received) != len(expected):
            problem = f"rank {len(received) + 1} instead of {len(expected) + 1} (batch included)"
        elif received[-1] is not None and received[-1] != expected[-1]:
            problem = f"{received[-1]} channels instead of {expected[-1]}"
        else:
            for axis, (got, want) in enumerate(zip(received, expected)):
                if got is not None and want is not None and got != want:
                    problem = f"size {got} instead of {want} on axis {axis + 1}"
                    break
        if problem:
            shown = lambda dims: ", ".join("None" if d is None else str(d) for d in dims)  # noqa: E731
            raise ValueError(
                f"{model_name} (input_kind={self.input_kind!r}) expects inputs of shape (batch, {shown(expected)}); "
                f"received (batch, {shown(received)}): {problem}."
            )

    @property
    def element_grid(self) -> tuple[int, ...] | None:
        """The byte array's M elements as a grid (row-major), e.g. `(H, W)`; `None`: an unordered set."""
        return None

    def mask_length(self) -> int | None:
        """Entries of this input's element mask (`use_input_mask`): one per byte-array element here
        (`None`: as variable as the element count)."""
        return self.compute_output_shape((None, *self.example_shape))[1]

    def element_mask(self, mask):
        """This input's mask `(B, mask_length())` -> the byte array's element mask `(B, M)` (the same here)."""
        return mask

    def build(self, inputs_shape):
        self.check_example_shape(tuple(inputs_shape[1:]), self.name)

    def get_config(self):
        config = super().get_config()
        config.update(input_shape=list(self.example_shape), example_dtype=self.example_dtype)
        return config


@register
class ElementSetAdapter(InputAdapter):
    """Base of adapters whose examples are a set of elements `(M, C)` (no grid to patch): one position
    layer, `self.positions` (set by the subclass), maps `(B, M, C)` to the byte array."""

    def build(self, inputs_shape):
        super().build(inputs_shape)
        self.positions.build(inputs_shape)

    def call(self, inputs):
        return self.positions(inputs)

    def compute_output_shape(self, inputs_shape):
        return self.positions.compute_output_shape(inputs_shape)

    def mask_length(self) -> int | None:
        """One mask entry per element: M (`None` for sets of any size), known before the layer is built."""
        return self.example_shape[0]
