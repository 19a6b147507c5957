"""Multimodal Perceiver: several inputs (e.g. audio + video) in one byte array, one encoder."""

from __future__ import annotations

import keras
from keras import ops

from perceiver_tf.layers import ClassificationHead, PerceiverEncoder
from perceiver_tf.layers.common import register, require_positive_int
from perceiver_tf.layers.modality_padding import ModalityPadding
from perceiver_tf.models.builder import FOURIER_KEYS
from perceiver_tf.models.input_kinds import get_input_kind, validate_input_shape
from perceiver_tf.models.perceiver_classifier import byte_array, deserialize_dtype, serialize_dtype
from perceiver_tf.models.presets import AUDIOSET_ENCODER

MODALITY_KEYS = {"input_shape", "input_kind", "patch_size", "position_encoding", "learned_position_channels"} | FOURIER_KEYS

#: Name of the optional whole-modality mask input.
MODALITY_MASK = "modality_mask"

#: The paper's AudioSet audio+video model (Sec. 4.2): raw audio (61,440 samples at 48 kHz,
#: 128-sample patches -> 480 x 128, 1-D Fourier features) and video (32 x 224 x 224 RGB,
#: 2 x 8 x 8 patches -> 16 x 28 x 28 x 384, 3-D Fourier features), each with 64 bands, padded
#: with a learned modality embedding to one width (771 video channels + 2, DeepMind's
#: `min_padding_size`), and the AudioSet encoder. The video resolution is our assumption.
AUDIOSET_AV = dict(
    modalities={
        "audio": dict(input_shape=(61440, 1), input_kind="audio", patch_size=128, num_bands=64),
        "video": dict(input_shape=(32, 224, 224, 3), input_kind="video", patch_size=(2, 8, 8), num_bands=64),
    },
    encoder_config=AUDIOSET_ENCODER,
)
#: Exact `count_params()` of `build_audioset_av()` (527 classes).
AUDIOSET_AV_PARAMS = 111_664_811


@register
class MultimodalPerceiver(keras.Model):
    """A Perceiver classifier over a dict of modalities (the paper's AudioSet audio+video model).

    Each modality `m` (in sorted name order) goes `m_patches` (optional) -> `m_position_encoding`
    (its own position features) -> `m_padding` (a learned modality embedding padding it to the
    common width `max_m(C_m + P_m) + modality_embedding_channels`); the byte arrays are
    concatenated along M and read by one `encoder`; `head` gives the logits.

    Args:
        modalities: `{name: spec}`; spec keys: `input_shape`, `input_kind`, optional
            `patch_size`, `position_encoding` ("fourier" | "learned" | "none") and its arguments
            (`num_bands`, `max_resolution`, `spacing`, `concat_pos`, `sine_only`,
            `learned_position_channels`).
        num_classes: output classes.
        encoder_config: `PerceiverEncoder` kwargs.
        modality_embedding_channels: the minimum embedding width (the widest modality gets
            exactly this many learned channels; DeepMind's `min_padding_size=2`).
        use_modality_mask: add a bool input `modality_mask` `(B, num_modalities)` (columns in
            sorted name order); a False entry masks every element of that modality, so the
            encoder ignores it entirely (missing-modality inference / modality dropout).
        classifier_activation: `None` (logits), "sigmoid" (multi-label) or "softmax".
        head_kernel_initializer, metadata, dtype: as in `PerceiverClassifier`.

    Call arguments:
        inputs: `{name: (B, *input_shape)}` (+ `"modality_mask"` if enabled).

    Returns:
        `(B, num_classes)`.
    """

    def __init__(
        self,
        modalities: dict[str, dict],
        num_classes: int,
        encoder_config: dict | None = None,
        modality_embedding_channels: int = 2,
        use_modality_mask: bool = False,
        classifier_activation: str | None = None,
        head_kernel_initializer: str = "zeros",
        metadata: dict | None = None,
        dtype=None,
        **kwargs,
    ):
        # === Validate ===
        if not isinstance(modalities, dict) or len(modalities) < 1:
            raise ValueError(f"`modalities` must be a non-empty dict of name -> spec. Received: {modalities!r}")
        if MODALITY_MASK in modalities:
            raise ValueError(f"{MODALITY_MASK!r} is reserved for the mask input; rename that modality.")
        modalities = {name: dict(modalities[name]) for name in sorted(modalities)}
        for name, spec in modalities.items():
            unknown = sorted(set(spec) - MODALITY_KEYS)
            if unknown or "input_shape" not in spec or "input_kind" not in spec:
                raise ValueError(
                    f"Modality {name!r} needs `input_shape` and `input_kind`, and only these keys: "
                    f"{', '.join(sorted(MODALITY_KEYS))}. Received: unknown={unknown}, keys={sorted(spec)}"
                )
        require_positive_int(num_classes, "num_classes")
        require_positive_int(modality_embedding_channels, "modality_embedding_channels")
        encoder_config = dict(encoder_config or {})

        # === Functional Model ===
        data, arrays = {}, {}
        for name, spec in modalities.items():
            kind = get_input_kind(spec["input_kind"])
            data[name] = keras.Input(shape=validate_input_shape(kind, spec["input_shape"]), name=name)
            encoding = spec.get("position_encoding", "fourier")
            if encoding == "learned":
                config = {"num_channels": spec.get("learned_position_channels", 64)}
            else:
                config = {k: v for k, v in spec.items() if k in FOURIER_KEYS} if encoding == "fourier" else {}
            arrays[name] = byte_array(data[name], kind, spec.get("patch_size"), encoding, config, dtype, prefix=f"{name}_")
        width = max(a.shape[-1] for a in arrays.values()) + modality_embedding_channels
        padded = [
            ModalityPadding(width, dtype=dtype, name=f"{name}_padding")(array) for name, array in arrays.items()
        ]
        inputs = keras.layers.Concatenate(axis=1, dtype=dtype, name="byte_array")(padded)
        encoder = PerceiverEncoder(**encoder_config, dtype=dtype, name="encoder")
        model_inputs = dict(data)
        if use_modality_mask:
            modality_mask = keras.Input(shape=(len(modalities),), dtype="bool", name=MODALITY_MASK)
            model_inputs[MODALITY_MASK] = modality_mask
            # (B, K) -> (B, M): each modality's flag repeated over its elements.
            input_mask = ops.concatenate(
                [ops.repeat(modality_mask[:, k : k + 1], a.shape[1], axis=1) for k, a in enumerate(arrays.values())],
                axis=1,
            )
            latents = encoder(inputs, input_mask=input_mask)
        else:
            latents = encoder(inputs)
        head = ClassificationHead(
            num_classes, activation=classifier_activation, kernel_initializer=head_kernel_initializer, dtype=dtype, name="head"
        )
        super().__init__(inputs=model_inputs, outputs=head(latents), **kwargs)

        # === Config ===
        self.modalities = modalities
        self.num_classes = num_classes
        self.encoder_config = encoder_config
        self.modality_embedding_channels = modality_embedding_channels
        self.use_modality_mask = bool(use_modality_mask)
        self.classifier_activation = classifier_activation
        self.head_kernel_initializer = head_kernel_initializer
        self.metadata = dict(metadata or {})
        self._dtype_arg = dtype
        #: Elements per modality in the byte array, in input order.
        self.modality_sizes = {name: int(a.shape[1]) for name, a in arrays.items()}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "modalities": self.modalities,
            "num_classes": self.num_classes,
            "encoder_config": self.encoder_config,
            "modality_embedding_channels": self.modality_embedding_channels,
            "use_modality_mask": self.use_modality_mask,
            "classifier_activation": self.classifier_activation,
            "head_kernel_initializer": self.head_kernel_initializer,
            "metadata": self.metadata,
            "dtype": serialize_dtype(self._dtype_arg),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_dtype(config))


def build_audioset_av(num_classes: int = 527, use_modality_mask: bool = False, **encoder_overrides) -> MultimodalPerceiver:
    """The paper's AudioSet audio+video Perceiver (`AUDIOSET_AV`); `encoder_overrides` shrink it."""
    return MultimodalPerceiver(
        AUDIOSET_AV["modalities"],
        num_classes,
        encoder_config={**AUDIOSET_AV["encoder_config"], **encoder_overrides},
        use_modality_mask=use_modality_mask,
        metadata={"preset": "audioset_av"},
        name="audioset_av",
    )
