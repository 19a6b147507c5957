"""Named Perceiver configurations (backbone + task defaults), their reference settings and exact sizes."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from perceiver_tf.adapters import adapter_arguments, get_adapter_class, infer_input_kind
from perceiver_tf.layers import PerceiverEncoder

#: `PerceiverEncoder` arguments, which `PerceiverBackbone` takes flat.
ENCODER_KEYS = tuple(n for n in inspect.signature(PerceiverEncoder.__init__).parameters if n not in ("self", "kwargs"))
#: `PerceiverBackbone` arguments that configure the adapter of a single input.
ADAPTER_KEYS = (
    "patch_size", "position_encoding", "num_bands", "max_resolution", "spacing", "concat_pos", "sine_only",
    "learned_position_channels", "learned_position_projection", "preprocessor", "preprocessor_channels",
    "conv_pool_padding", "conv_padding", "pixel_permutation_seed", "sequence_tokens", "vocab_size",
    "embedding_channels", "max_positions",
)
#: Every `PerceiverBackbone` argument a preset or an override may set.
BACKBONE_KEYS = frozenset(ENCODER_KEYS + ADAPTER_KEYS + ("use_input_mask", "use_modality_mask",
                                                         "modality_embedding_channels", "dtype"))

_PAPER = "Jaegle et al. 2021, Perceiver (arXiv 2103.03206)"
_PAPER_IO = "Jaegle et al. 2021, Perceiver IO (arXiv 2107.14795)"
_HF = "transformers' `PerceiverFor{}` (checkpoint deepmind/{})"
_IMAGENET_ENCODER = dict(
    num_latents=512, latent_dim=1024, num_blocks=8, num_cross_attends=8, num_self_attends_per_block=6,
    num_cross_attention_heads=1, num_self_attention_heads=8,
)
#: The AudioSet encoder (Sec. 4.2): 2 cross-attends, 8 self-attends per block, no sharing.
_AUDIOSET_ENCODER = dict(
    num_latents=512, latent_dim=1024, num_blocks=2, num_cross_attends=2, num_self_attends_per_block=8,
    num_self_attention_heads=8, share_cross_attention=False, share_latent_transformer=False,
)
#: Perceiver IO ImageNet config A (Table 5; DeepMind's `perceiver/train/experiment.py`): one cross-attend,
#: a 6-layer latent Transformer (8 heads, shared) applied 8 times, widening factor 1 everywhere.
_PERCEIVER_IO_IMAGENET_ENCODER = dict(
    num_latents=512, latent_dim=1024, num_blocks=8, num_cross_attends=1, num_self_attends_per_block=6,
    num_cross_attention_heads=1, num_self_attention_heads=8, share_latent_transformer=True,
)


@dataclass(frozen=True)
class Preset:
    """One named configuration.

    Attributes:
        name: preset name, e.g. "imagenet".
        description: one line for `perceiver-tf presets`.
        backbone: `PerceiverBackbone` arguments: encoder and position arguments, or `adapters`
            (`{name: {"input_kind", "input_shape", ...}}`) for several inputs.
        classifier: `PerceiverClassifier` arguments besides `num_classes` (e.g. `decoder="query"`).
        input_kind: the modality of a single-input preset (`None`: any, inferred from the shape).
        reference_input_shape / reference_num_classes: the setting `params` is counted in
            (a dict of shapes for several inputs).
        params: exact `count_params()` of the classifier in the reference setting.
        source: where the configuration comes from.
        task: the model the preset builds and `params` counts: "classifier" (`PerceiverClassifier`),
            "masked_lm" (`PerceiverMaskedLM`) or "optical_flow" (`PerceiverOpticalFlow`).
        trainable_params: `params` less non-trainable weights (batch-norm statistics), when it
            differs: the figure transformers reports as `parameters()`.
    """

    name: str
    description: str
    backbone: dict = field(default_factory=dict)
    classifier: dict = field(default_factory=dict)
    input_kind: str | None = None
    reference_input_shape: tuple | dict = (8, 8, 1)
    reference_num_classes: int = 10
    params: int = 0
    source: str = "perceiver_tf"
    task: str = "classifier"
    trainable_params: int | None = None

    @property
    def modality(self) -> str:
        """The input kind(s) in words, for listings: "image", "audio + video", "any"."""
        if "adapters" in self.backbone:
            return " + ".join(spec["input_kind"] for spec in self.backbone["adapters"].values())
        return self.input_kind or "any"


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "tiny",
            "32 x 64 latents, 2 blocks x 2 self-attends; seconds per epoch on digits (CPU).",
            backbone=dict(num_latents=32, latent_dim=64, num_blocks=2, num_cross_attends=2,
                          num_self_attends_per_block=2, num_self_attention_heads=4, num_bands=8),
            params=84_620,
        ),
        Preset(
            "small",
            "64 x 128 latents, 4 blocks (2 cross-attends) x 2 self-attends; the CPU demo default.",
            backbone=dict(num_latents=64, latent_dim=128, num_blocks=4, num_cross_attends=2,
                          num_self_attends_per_block=2, num_self_attention_heads=4, num_bands=16),
            params=328_908,
        ),
        Preset(
            "imagenet",
            "The paper's ImageNet model: 512 x 1024 latents, 8 cross-attends (2-8 shared), shared 6-layer latent Transformer.",
            backbone=dict(**_IMAGENET_ENCODER, num_bands=64),
            input_kind="image", reference_input_shape=(224, 224, 3), reference_num_classes=1000,
            params=44_912_254, source=_PAPER + ", Table 1 / Sec. 4.1",
        ),
        Preset(
            "imagenet_unshared",
            "The ImageNet model without weight sharing (paper's ablation, 326.2M parameters).",
            backbone=dict(**_IMAGENET_ENCODER, num_bands=64, share_cross_attention=False,
                          share_latent_transformer=False),
            input_kind="image", reference_input_shape=(224, 224, 3), reference_num_classes=1000,
            params=326_241_856, source=_PAPER + ", Appendix (weight sharing ablation)",
        ),
        Preset(
            "perceiver_io_imagenet",
            "Perceiver IO ImageNet config A: 1 cross-attend, shared 6-layer latent Transformer x 8, learned-query decoder.",
            backbone=dict(**_PERCEIVER_IO_IMAGENET_ENCODER, num_bands=64),
            classifier=dict(decoder="query"),
            input_kind="image", reference_input_shape=(224, 224, 3), reference_num_classes=1000,
            params=48_440_627, source=_PAPER_IO + ", Table 5 (config A); " + _HF.format(
                "ImageClassificationFourier", "vision-perceiver-fourier"),
        ),
        Preset(
            "vision_perceiver_learned",
            "Perceiver IO ImageNet with learned positions: 1x1 conv to 256 channels + 256 learned (projected) position "
            "channels, config A encoder, learned-query decoder.",
            backbone=dict(**_PERCEIVER_IO_IMAGENET_ENCODER, preprocessor="conv1x1", preprocessor_channels=256,
                          position_encoding="learned", learned_position_channels=256, learned_position_projection=256),
            classifier=dict(decoder="query"),
            input_kind="image", reference_input_shape=(224, 224, 3), reference_num_classes=1000,
            params=62_255_848, source=_PAPER_IO + ", Table 5; " + _HF.format(
                "ImageClassificationLearned", "vision-perceiver-learned"),
        ),
        Preset(
            "vision_perceiver_conv",
            "Perceiver IO ImageNet with a conv stem (7x7/2 conv + batch norm + ReLU + 3x3/2 max-pool: 55 x 55 x 64) "
            "and 2-D Fourier features, config A encoder, learned-query decoder.",
            backbone=dict(**_PERCEIVER_IO_IMAGENET_ENCODER, preprocessor="conv", preprocessor_channels=64,
                          conv_pool_padding="valid", conv_padding="symmetric", num_bands=64, max_resolution=[56, 56]),
            classifier=dict(decoder="query"),
            input_kind="image", reference_input_shape=(224, 224, 3), reference_num_classes=1000,
            params=48_646_650, trainable_params=48_646_522, source=_PAPER_IO + ", Table 5; " + _HF.format(
                "ImageClassificationConvProcessing", "vision-perceiver-conv"),
        ),
        Preset(
            "language_perceiver",
            "Perceiver IO masked language model on UTF-8 bytes: 2048 tokens, 256 x 1280 latents, 26 self-attends, "
            "embedding-tied decoder.",
            backbone=dict(num_latents=256, latent_dim=1280, num_blocks=1, num_cross_attends=1,
                          num_self_attends_per_block=26, num_cross_attention_heads=8, num_self_attention_heads=8,
                          cross_attention_qk_channels=256, cross_attention_v_channels=1280,
                          self_attention_qk_channels=256, self_attention_v_channels=1280,
                          vocab_size=262, embedding_channels=768, max_positions=2048, use_input_mask=True),
            input_kind="text", reference_input_shape=(2048,), reference_num_classes=262, task="masked_lm",
            params=201_108_230, source=_PAPER_IO + ", Sec. 4.1; " + _HF.format("MaskedLM", "language-perceiver"),
        ),
        Preset(
            "optical_flow_perceiver",
            "Perceiver IO optical flow: 368 x 496 pixels of 54 features (3x3 patches of two frames) -> 1x1 conv to "
            "64 + 2-D Fourier features, 2048 x 512 latents, 24 self-attends, every pixel queries its flow.",
            backbone=dict(num_latents=2048, latent_dim=512, num_blocks=1, num_cross_attends=1,
                          num_self_attends_per_block=24, num_cross_attention_heads=1, num_self_attention_heads=16,
                          preprocessor="conv1x1", preprocessor_channels=64, num_bands=64),
            input_kind="image", reference_input_shape=(368, 496, 54), reference_num_classes=2, task="optical_flow",
            params=41_057_134, source=_PAPER_IO + ", Sec. 4.2; " + _HF.format("OpticalFlow", "optical-flow-perceiver"),
        ),
        Preset(
            "audioset",
            "AudioSet (raw audio patched to 480 x 128 by the pipeline): 512 x 1024 latents, 2 cross-attends, 8 self-attends.",
            backbone=dict(**_AUDIOSET_ENCODER, num_bands=64),
            input_kind="audio", reference_input_shape=(480, 128), reference_num_classes=527,
            params=107_419_677, source=_PAPER + ", Sec. 4.2",
        ),
        Preset(
            "audioset_raw",
            "AudioSet raw audio: 61,440 samples (48 kHz) cut into 480 patches of 128 by the model, 1-D Fourier features.",
            backbone=dict(**_AUDIOSET_ENCODER, num_bands=64, patch_size=128),
            input_kind="audio", reference_input_shape=(61440, 1), reference_num_classes=527,
            params=107_419_677, source=_PAPER + ", Sec. 4.2",
        ),
        Preset(
            "audioset_mel",
            "AudioSet log-mel spectrogram (128 frames x 128 mel bins, our framing) with 2-D Fourier features.",
            backbone=dict(**_AUDIOSET_ENCODER, num_bands=64),
            input_kind="image", reference_input_shape=(128, 128, 1), reference_num_classes=527,
            params=107_432_017, source=_PAPER + ", Sec. 4.2 (spectrogram framing is ours)",
        ),
        Preset(
            "audioset_video",
            "AudioSet video: 32 x 224 x 224 RGB cut into 2x8x8 space-time patches (16 x 28 x 28 x 384), 3-D Fourier features.",
            backbone=dict(**_AUDIOSET_ENCODER, num_bands=64, patch_size=(2, 8, 8)),
            input_kind="video", reference_input_shape=(32, 224, 224, 3), reference_num_classes=527,
            params=111_643_729, source=_PAPER + ", Sec. 4.2 (224 x 224 frames assumed)",
        ),
        Preset(
            "audioset_av",
            "AudioSet audio + video: raw-audio and video patches, each with its own Fourier features and a learned "
            "modality embedding, in one byte array.",
            backbone=dict(
                **_AUDIOSET_ENCODER,
                adapters={
                    "audio": dict(input_kind="audio", input_shape=(61440, 1), patch_size=128, num_bands=64),
                    "video": dict(input_kind="video", input_shape=(32, 224, 224, 3), patch_size=(2, 8, 8),
                                  num_bands=64),
                },
            ),
            reference_input_shape={"audio": (61440, 1), "video": (32, 224, 224, 3)}, reference_num_classes=527,
            params=111_664_811, source=_PAPER + ", Sec. 4.2 (224 x 224 frames assumed)",
        ),
        Preset(
            "modelnet40",
            "ModelNet40 point clouds: 512 x 1024 latents, 2 cross-attends, 6 self-attends, 3-D Fourier features "
            "(64 bands, max resolution 1120).",
            backbone=dict(num_latents=512, latent_dim=1024, num_blocks=2, num_cross_attends=2,
                          num_self_attends_per_block=6, num_self_attention_heads=8, num_bands=64,
                          max_resolution=1120, share_cross_attention=False, share_latent_transformer=False),
            input_kind="points", reference_input_shape=(2000, 3), reference_num_classes=40,
            params=82_604_020, source=_PAPER + ", Sec. 4.3",
        ),
    )
}


def list_presets() -> list[str]:
    """Names of all presets, in table order."""
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    """Look up a preset, raising a ValueError that lists the valid names."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Valid presets: {', '.join(PRESETS)}")
    return PRESETS[name]


def _applicable(position: dict, input_kind: str) -> dict:
    """The preset's position arguments that the adapter of `input_kind` takes (presets are modality-agnostic)."""
    accepted = adapter_arguments(get_adapter_class(input_kind))
    return {k: v for k, v in position.items() if k in accepted}


def backbone_kwargs(preset: str, input_shape=None, input_kind=None, overrides: dict | None = None) -> dict:
    """`PerceiverBackbone` arguments of `preset` for `input_shape`, with `overrides` applied.

    A dict `input_shape` (with a dict `input_kind`) makes one adapter per entry. The preset's
    position arguments go to every adapter that takes them; overridden ones must apply.

    Raises:
        ValueError: an unknown preset or override, or shapes that do not fit the preset's inputs.
    """
    spec = get_preset(preset)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - BACKBONE_KEYS - {"name"})
    if unknown:
        raise ValueError(f"Unknown override(s) {unknown}. Valid: {', '.join(sorted(BACKBONE_KEYS | {'name'}))}")
    position = {k: overrides.pop(k) for k in ADAPTER_KEYS if k in overrides}
    config = {k: v for k, v in spec.backbone.items() if k not in ADAPTER_KEYS and k != "adapters"}
    preset_position = {k: v for k, v in spec.backbone.items() if k in ADAPTER_KEYS}
    if "adapters" in spec.backbone:
        shapes = spec.reference_input_shape if input_shape is None else input_shape
        names = sorted(spec.backbone["adapters"])
        if not isinstance(shapes, dict) or sorted(shapes) != names:
            raise ValueError(f"Preset {preset!r} takes inputs {names}: pass input_shape as a dict with these keys. "
                             f"Received: input_shape={input_shape!r}")
        adapters = {name: {**adapter, "input_shape": tuple(shapes[name]), **position}
                    for name, adapter in spec.backbone["adapters"].items()}
        return {**config, **overrides, "adapters": adapters}
    if isinstance(input_shape, dict):
        if not isinstance(input_kind, dict) or sorted(input_kind) != sorted(input_shape):
            raise ValueError(f"Several inputs need input_kind as a dict with the keys {sorted(input_shape)}. "
                             f"Received: input_kind={input_kind!r}")
        adapters = {name: {"input_kind": input_kind[name], "input_shape": tuple(shape),
                           **_applicable(preset_position, input_kind[name]), **position}
                    for name, shape in input_shape.items()}
        return {**config, **overrides, "adapters": adapters}
    shape = tuple(spec.reference_input_shape if input_shape is None else input_shape)
    kind = input_kind or spec.input_kind or infer_input_kind(shape)
    get_adapter_class(kind)
    return {**config, **_applicable(preset_position, kind), **position, **overrides,
            "input_shape": shape, "input_kind": kind}
