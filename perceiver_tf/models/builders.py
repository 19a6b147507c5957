"""One-call builders: a preset + the data's shape -> a ready task model."""

from __future__ import annotations

from perceiver_tf.adapters import infer_input_kind
from perceiver_tf.models.perceiver_backbone import PerceiverBackbone
from perceiver_tf.models.perceiver_classifier import PerceiverClassifier
from perceiver_tf.models.perceiver_io import PerceiverIO


def build_classifier(preset: str, input_shape, num_classes: int, input_kind=None, metadata: dict | None = None,
                     **overrides) -> PerceiverClassifier:
    """Build a Perceiver classifier from a preset (`PerceiverClassifier.from_preset` with a required shape).

    Args:
        preset: a name from `list_presets()`, e.g. "small" or "imagenet".
        input_shape: one example's shape without the batch axis, e.g. `(224, 224, 3)`; a dict
            `{name: shape}` (with a dict `input_kind`) for several inputs.
        num_classes: number of output classes (>= 1).
        input_kind: "image" (H, W, C), "audio"/"sequence" (T, C), "video" (T, H, W, C),
            "points" (P, 3 + F, xyz first) or "array" (M, C, no positions). `None`: the
            preset's own kind, else inferred from the rank (3 -> image, 4 -> video).
        metadata: JSON-serialisable dict saved with the model (class names, preprocessing).
        **overrides: any `PerceiverBackbone` argument (`num_latents`, `num_bands`, `patch_size`,
            `use_input_mask`, `dtype`, ...) or `PerceiverClassifier` argument (`decoder`,
            `activation`, `multi_label`, `head_kernel_initializer`, ...), and `name`.

    Returns:
        A functional `PerceiverClassifier` producing `(B, num_classes)` logits.

    Example:
        >>> model = build_classifier("tiny", (8, 8, 1), num_classes=10)
        >>> model.output_shape
        (None, 10)
    """
    return PerceiverClassifier.from_preset(preset, input_shape=input_shape, input_kind=input_kind, metadata=metadata,
                                           num_classes=num_classes, **overrides)


def build_perceiver_io_imagenet(num_classes: int = 1000, input_shape: tuple = (224, 224, 3), **overrides) -> PerceiverClassifier:
    """Perceiver IO ImageNet config A (48.4M parameters at 224 x 224 x 3, 1,000 classes): preset
    "perceiver_io_imagenet", a classifier with the learned-query decoder; `overrides` shrink it."""
    return PerceiverClassifier.from_preset("perceiver_io_imagenet", input_shape=input_shape, num_classes=num_classes,
                                           **overrides)


def build_audioset_av(num_classes: int = 527, use_modality_mask: bool = False, **overrides) -> PerceiverClassifier:
    """The paper's AudioSet audio + video Perceiver (preset "audioset_av"); `overrides` shrink it."""
    return PerceiverClassifier.from_preset("audioset_av", num_classes=num_classes, use_modality_mask=use_modality_mask,
                                           **overrides)


def build_autoencoder(input_shape: tuple, input_kind: str | None = None, num_bands: int = 16,
                      query_num_bands: int | None = None, output_activation: str | None = None,
                      metadata: dict | None = None, **backbone_kwargs) -> PerceiverIO:
    """Dense autoencoding / per-element prediction on the input's own grid.

    Queries are the Fourier features of every input position (no query residual), so the
    output `"reconstruction"` has the input's shape: `(B, H, W, C)` for images, `(B, T, C)`
    for audio. For another per-element target (e.g. segmentation logits), build a
    `PerceiverIO` task with `output_channels` set to the target width instead.

    Args:
        input_shape: one grid example, e.g. `(8, 8, 1)`.
        input_kind: "image" | "audio" | "sequence" | "video". `None`: image for rank 3, video for rank 4.
        num_bands: K of the input position features.
        query_num_bands: K of the output query features. `None`: `num_bands`.
        output_activation: e.g. "sigmoid" for targets in [0, 1].
        metadata: saved with the model.
        **backbone_kwargs: other `PerceiverBackbone` arguments (`num_latents`, `latent_dim`, ...).
    """
    input_shape = tuple(input_shape)
    input_kind = input_kind or infer_input_kind(input_shape)
    if input_kind not in ("image", "audio", "sequence", "video"):
        raise ValueError(
            f"build_autoencoder needs a grid input (image, audio, sequence or video). "
            f"Received: input_kind={input_kind!r}, input_shape={input_shape}"
        )
    backbone = PerceiverBackbone(input_shape, input_kind, num_bands=num_bands, name="backbone", **backbone_kwargs)
    task = dict(index_dims=input_shape[:-1], num_bands=query_num_bands or num_bands,
                output_channels=input_shape[-1], activation=output_activation)
    return PerceiverIO(backbone, tasks={"reconstruction": task}, metadata=metadata)
