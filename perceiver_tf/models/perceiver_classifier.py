"""`PerceiverClassifier`: inputs -> position encoding -> Perceiver encoder -> class logits."""

from __future__ import annotations

import keras

from perceiver_tf.layers import (
    ClassificationHead,
    FlattenIndexDims,
    FourierPositionEncoding,
    LearnedPositionEncoding,
    PerceiverEncoder,
)
from perceiver_tf.layers.common import register, require_positive_int
from perceiver_tf.layers.patches import ExtractPatches
from perceiver_tf.models.input_kinds import get_input_kind, validate_input_shape

POSITION_ENCODINGS = ("fourier", "learned", "none")


def _position_layer(kind, position_encoding: str, config: dict, dtype, name: str = "position_encoding") -> keras.layers.Layer:
    if position_encoding not in POSITION_ENCODINGS:
        raise ValueError(
            f"Unknown position_encoding {position_encoding!r}. Valid: {', '.join(POSITION_ENCODINGS)}"
        )
    if position_encoding == "none":
        return FlattenIndexDims(dtype=dtype, name=name)
    if position_encoding == "learned":
        if not kind.has_grid and kind.name != "array":
            raise ValueError(f"position_encoding='learned' needs a fixed layout; input_kind={kind.name!r} has none.")
        return LearnedPositionEncoding(**config, dtype=dtype, name=name)
    if kind.name == "array":
        raise ValueError(
            "input_kind='array' has no positions for Fourier features; use input_kind='sequence' "
            "for a 1-D signal, or position_encoding='none' / 'learned'."
        )
    return FourierPositionEncoding(
        **config, coordinate_channels=kind.coordinate_channels, dtype=dtype, name=name
    )


def byte_array(data, kind, patch_size, position_encoding: str, config: dict, dtype, prefix: str = ""):
    """`data (B, *input_shape)` -> [patches] -> position encoding -> byte array `(B, M, C + P)`.

    Layers are named `{prefix}patches` and `{prefix}position_encoding`.
    """
    if patch_size is not None:
        if not kind.has_grid:
            raise ValueError(f"`patch_size` needs a grid input; input_kind={kind.name!r} has none.")
        data = ExtractPatches(patch_size, dtype=dtype, name=f"{prefix}patches")(data)
    return _position_layer(kind, position_encoding, config, dtype, name=f"{prefix}position_encoding")(data)


def encode(data, inputs, encoder, use_input_mask: bool):
    """Run `encoder` on the byte array `inputs`; return `(latents, model_inputs)`.

    With `use_input_mask` a bool `input_mask` `(B, M)` input is added and the model takes
    `{"inputs": data, "input_mask": mask}`; otherwise it takes `data`.
    """
    if not use_input_mask:
        return encoder(inputs), data
    mask = keras.Input(shape=(inputs.shape[1],), dtype="bool", name="input_mask")
    return encoder(inputs, input_mask=mask), {"inputs": data, "input_mask": mask}


def serialize_dtype(dtype):
    """A model's `dtype` argument in JSON form (a policy name, a serialized policy or `None`)."""
    if dtype is None or isinstance(dtype, str):
        return dtype
    return keras.dtype_policies.serialize(dtype)


def deserialize_dtype(config: dict) -> dict:
    """Inverse of `serialize_dtype` applied to `config["dtype"]`; returns a new dict."""
    config = dict(config)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
    return config


@register
class PerceiverClassifier(keras.Model):
    """A functional Perceiver classifier for any `input_kind`.

    Graph: `inputs (B, *input_shape)` [-> `patches`] -> `position_encoding` (B, M, C + P) -> `encoder`
    (latents, B, N, D) -> `head` (logits, B, num_classes). The layers are reachable by those
    names (e.g. `model.get_layer("encoder").output` for the latents).

    Args:
        input_shape: one example's shape, e.g. `(224, 224, 3)`; points/array may use `None`
            for a variable element count.
        num_classes: number of classes.
        input_kind: "image", "audio", "sequence", "video", "points" or "array".
        position_encoding: "fourier", "learned" or "none".
        position_encoding_config: kwargs of `FourierPositionEncoding` / `LearnedPositionEncoding`.
        encoder_config: kwargs of `PerceiverEncoder`.
        classifier_activation: `None` (logits) or an activation name.
        head_kernel_initializer: "zeros" (DeepMind) or another initializer name.
        patch_size: cut the input into non-overlapping patches first (`ExtractPatches`), e.g.
            128 for raw audio `(61440, 1)` -> `(480, 128)`, `(2, 8, 8)` for video. Position
            features then index patches. `None`: no patching.
        use_input_mask: add a bool input `input_mask` `(B, M)` marking valid elements; the
            model then takes a dict `{"inputs": ..., "input_mask": ...}`.
        metadata: JSON-serialisable dict carried with the model (class names, preprocessing).
        dtype: dtype policy of every layer (e.g. "mixed_bfloat16"); `None`: the global policy.
    """

    def __init__(
        self,
        input_shape: tuple,
        num_classes: int,
        input_kind: str = "image",
        position_encoding: str = "fourier",
        position_encoding_config: dict | None = None,
        encoder_config: dict | None = None,
        classifier_activation: str | None = None,
        head_kernel_initializer: str = "zeros",
        use_input_mask: bool = False,
        metadata: dict | None = None,
        dtype=None,
        patch_size=None,
        **kwargs,
    ):
        # === Validate ===
        kind = get_input_kind(input_kind)
        input_shape = validate_input_shape(kind, input_shape)
        require_positive_int(num_classes, "num_classes")
        position_encoding_config = dict(position_encoding_config or {})
        encoder_config = dict(encoder_config or {})

        # === Layers ===
        encoder = PerceiverEncoder(**encoder_config, dtype=dtype, name="encoder")
        head = ClassificationHead(
            num_classes,
            activation=classifier_activation,
            kernel_initializer=head_kernel_initializer,
            dtype=dtype,
            name="head",
        )

        # === Functional Model ===
        data = keras.Input(shape=input_shape, name="inputs")
        inputs = byte_array(data, kind, patch_size, position_encoding, position_encoding_config, dtype)
        latents, model_inputs = encode(data, inputs, encoder, use_input_mask)
        logits = head(latents)
        super().__init__(inputs=model_inputs, outputs=logits, **kwargs)
        # Shapes are checked in `call`, with a message that names the mismatched axis.
        self.input_spec = None

        # === Config ===
        self.example_shape = input_shape
        self.num_classes = num_classes
        self.input_kind = input_kind
        self.position_encoding = position_encoding
        self.position_encoding_config = position_encoding_config
        self.encoder_config = encoder_config
        self.classifier_activation = classifier_activation
        self.head_kernel_initializer = head_kernel_initializer
        self.use_input_mask = bool(use_input_mask)
        self.metadata = dict(metadata or {})
        self._dtype_arg = dtype
        self.patch_size = patch_size

    def call(self, inputs, training=None, mask=None):
        data = inputs["inputs"] if self.use_input_mask and isinstance(inputs, dict) else inputs
        self._check_example_shape(tuple(data.shape[1:]))
        return super().call(inputs, training=training, mask=mask)

    def _check_example_shape(self, received: tuple) -> None:
        """Raise a ValueError naming the axis when an input does not match `input_shape`."""
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
            raise ValueError(
                f"{self.name} (input_kind={self.input_kind!r}) expects inputs of shape "
                f"(batch, {', '.join(map(str, expected))}); received (batch, "
                f"{', '.join(map(str, received))}): {problem}."
            )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": list(self.example_shape),
            "num_classes": self.num_classes,
            "input_kind": self.input_kind,
            "position_encoding": self.position_encoding,
            "position_encoding_config": self.position_encoding_config,
            "encoder_config": self.encoder_config,
            "classifier_activation": self.classifier_activation,
            "head_kernel_initializer": self.head_kernel_initializer,
            "use_input_mask": self.use_input_mask,
            "metadata": self.metadata,
            "patch_size": self.patch_size,
            "dtype": serialize_dtype(self._dtype_arg),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_dtype(config))
