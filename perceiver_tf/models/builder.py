"""`build_classifier`: a preset + overrides -> a functional `PerceiverClassifier`."""

from __future__ import annotations

import inspect

from perceiver_tf.layers import FourierPositionEncoding, LearnedPositionEncoding, PerceiverEncoder
from perceiver_tf.layers.common import require_positive_int
from perceiver_tf.models.input_kinds import get_input_kind, infer_input_kind
from perceiver_tf.models.perceiver_classifier import PerceiverClassifier
from perceiver_tf.models.presets import get_preset

#: Max resolution for point clouds when a preset gives none: frequencies 1..16 over [-1, 1].
DEFAULT_POINTS_MAX_RESOLUTION = 32


def _init_args(cls) -> set[str]:
    return {n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "kwargs")}


ENCODER_KEYS = _init_args(PerceiverEncoder)
FOURIER_KEYS = _init_args(FourierPositionEncoding) - {"coordinate_channels"}
LEARNED_KEYS = {"learned_position_channels"}
MODEL_KEYS = {
    "position_encoding",
    "classifier_activation",
    "head_kernel_initializer",
    "use_input_mask",
    "patch_size",
    "dtype",
    "name",
}
VALID_OVERRIDES = ENCODER_KEYS | FOURIER_KEYS | LEARNED_KEYS | MODEL_KEYS


def build_classifier(
    preset: str,
    input_shape: tuple,
    num_classes: int,
    input_kind: str | None = None,
    metadata: dict | None = None,
    **overrides,
) -> PerceiverClassifier:
    """Build a Perceiver classifier from a preset.

    Args:
        preset: a name from `list_presets()`, e.g. "small" or "imagenet".
        input_shape: one example's shape without the batch axis, e.g. `(224, 224, 3)`.
        num_classes: number of output classes (>= 1).
        input_kind: "image" (H, W, C), "audio"/"sequence" (T, C), "video" (T, H, W, C),
            "points" (P, 3 + F, xyz first) or "array" (M, C, no positions). `None`: the
            preset's own kind, else inferred from the rank (3 -> image, 4 -> video).
        metadata: JSON-serialisable dict saved with the model (class names, preprocessing).
        **overrides: any `PerceiverEncoder` argument (`num_latents`, `latent_dim`,
            `num_blocks`, ...), any Fourier argument (`num_bands`, `max_resolution`,
            `spacing`, `concat_pos`, `sine_only`), `learned_position_channels`, or
            `position_encoding` ("fourier" | "learned" | "none"), `classifier_activation`,
            `head_kernel_initializer`, `use_input_mask`, `patch_size`, `dtype`, `name`.

    Returns:
        A functional `PerceiverClassifier` producing `(B, num_classes)` logits.

    Example:
        >>> model = build_classifier("tiny", (8, 8, 1), num_classes=10)
        >>> model.output_shape
        (None, 10)
    """
    spec = get_preset(preset)
    require_positive_int(num_classes, "num_classes")
    unknown = sorted(set(overrides) - VALID_OVERRIDES)
    if unknown:
        raise ValueError(
            f"Unknown override(s) {unknown} for build_classifier. Valid: {', '.join(sorted(VALID_OVERRIDES))}"
        )
    input_shape = tuple(input_shape)
    kind_name = input_kind or spec.input_kind or infer_input_kind(input_shape)
    kind = get_input_kind(kind_name)

    config = {**spec.config, **overrides}
    default_encoding = "fourier" if kind.name != "array" else "none"
    position_encoding = config.pop("position_encoding", default_encoding)
    encoder_config = {k: v for k, v in config.items() if k in ENCODER_KEYS}
    if position_encoding == "learned":
        position_config = {"num_channels": config.get("learned_position_channels", 64)}
    elif position_encoding == "fourier":
        position_config = {k: v for k, v in config.items() if k in FOURIER_KEYS}
        if kind.coordinate_channels and position_config.get("max_resolution") is None:
            position_config["max_resolution"] = DEFAULT_POINTS_MAX_RESOLUTION
    else:
        position_config = {}
    model_kwargs = {k: v for k, v in config.items() if k in MODEL_KEYS}
    return PerceiverClassifier(
        input_shape=input_shape,
        num_classes=num_classes,
        input_kind=kind.name,
        position_encoding=position_encoding,
        position_encoding_config=position_config,
        encoder_config=encoder_config,
        metadata={"preset": preset, **(metadata or {})},
        **model_kwargs,
    )
