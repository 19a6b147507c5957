"""Named Perceiver configurations, with their reference shapes and parameter counts."""

from __future__ import annotations

from dataclasses import dataclass, field

_PAPER = "Jaegle et al. 2021, Perceiver (arXiv 2103.03206)"
_IMAGENET_ENCODER = dict(
    num_latents=512,
    latent_dim=1024,
    num_blocks=8,
    num_cross_attends=8,
    num_self_attends_per_block=6,
    num_cross_attention_heads=1,
    num_self_attention_heads=8,
)

#: The AudioSet encoder (Sec. 4.2): 2 cross-attends, 8 self-attends per block, no sharing.
AUDIOSET_ENCODER = dict(
    num_latents=512,
    latent_dim=1024,
    num_blocks=2,
    num_cross_attends=2,
    num_self_attends_per_block=8,
    num_self_attention_heads=8,
    share_cross_attention=False,
    share_latent_transformer=False,
)


@dataclass(frozen=True)
class Preset:
    """One named configuration.

    Attributes:
        name: preset name, e.g. "imagenet".
        description: one line for `list_presets()`.
        config: flat overrides (encoder, position-encoding and model keys; see `build_classifier`).
        input_kind: the modality the preset was designed for (`None`: any).
        reference_input_shape / reference_num_classes: the setting `params` is counted in.
        params: exact `count_params()` in the reference setting.
        source: where the configuration comes from.
    """

    name: str
    description: str
    config: dict = field(default_factory=dict)
    input_kind: str | None = None
    reference_input_shape: tuple = (8, 8, 1)
    reference_num_classes: int = 10
    params: int = 0
    source: str = "perceiver_tf"


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "tiny",
            "32 x 64 latents, 2 blocks x 2 self-attends; seconds per epoch on digits (CPU).",
            config=dict(
                num_latents=32, latent_dim=64, num_blocks=2, num_cross_attends=2,
                num_self_attends_per_block=2, num_self_attention_heads=4, num_bands=8,
            ),
            params=84_620,
        ),
        Preset(
            "small",
            "64 x 128 latents, 4 blocks (2 cross-attends) x 2 self-attends; the CPU demo default.",
            config=dict(
                num_latents=64, latent_dim=128, num_blocks=4, num_cross_attends=2,
                num_self_attends_per_block=2, num_self_attention_heads=4, num_bands=16,
            ),
            params=328_908,
        ),
        Preset(
            "imagenet",
            "The paper's ImageNet model: 512 x 1024 latents, 8 cross-attends (2-8 shared), shared 6-layer latent Transformer.",
            config=dict(**_IMAGENET_ENCODER, num_bands=64),
            input_kind="image",
            reference_input_shape=(224, 224, 3),
            reference_num_classes=1000,
            params=44_912_254,
            source=_PAPER + ", Table 1 / Sec. 4.1",
        ),
        Preset(
            "imagenet_unshared",
            "The ImageNet model without weight sharing (paper's ablation, 326.2M parameters).",
            config=dict(
                **_IMAGENET_ENCODER, num_bands=64,
                share_cross_attention=False, share_latent_transformer=False,
            ),
            input_kind="image",
            reference_input_shape=(224, 224, 3),
            reference_num_classes=1000,
            params=326_241_856,
            source=_PAPER + ", Appendix (weight sharing ablation)",
        ),
        Preset(
            "audioset",
            "AudioSet (raw audio patched to 480 x 128): 512 x 1024 latents, 2 cross-attends, 8 self-attends, no sharing.",
            config=dict(**AUDIOSET_ENCODER, num_bands=64),
            input_kind="audio",
            reference_input_shape=(480, 128),
            reference_num_classes=527,
            params=107_419_677,
            source=_PAPER + ", Sec. 4.2",
        ),
        Preset(
            "modelnet40",
            "ModelNet40 point clouds: 512 x 1024 latents, 2 cross-attends, 6 self-attends, 3-D Fourier features (64 bands, max resolution 1120).",
            config=dict(
                num_latents=512, latent_dim=1024, num_blocks=2, num_cross_attends=2,
                num_self_attends_per_block=6, num_self_attention_heads=8, num_bands=64,
                max_resolution=1120, share_cross_attention=False, share_latent_transformer=False,
            ),
            input_kind="points",
            reference_input_shape=(2000, 3),
            reference_num_classes=40,
            params=82_604_020,
            source=_PAPER + ", Sec. 4.3",
        ),
        Preset(
            "audioset_raw",
            "AudioSet raw audio: 61,440 samples (48 kHz) cut into 480 patches of 128 by the model, 1-D Fourier features.",
            config=dict(**AUDIOSET_ENCODER, num_bands=64, patch_size=128),
            input_kind="audio",
            reference_input_shape=(61440, 1),
            reference_num_classes=527,
            params=107_419_677,
            source=_PAPER + ", Sec. 4.2",
        ),
        Preset(
            "audioset_mel",
            "AudioSet log-mel spectrogram (128 frames x 128 mel bins, our framing) with 2-D Fourier features.",
            config=dict(**AUDIOSET_ENCODER, num_bands=64),
            input_kind="image",
            reference_input_shape=(128, 128, 1),
            reference_num_classes=527,
            params=107_432_017,
            source=_PAPER + ", Sec. 4.2 (spectrogram framing is ours)",
        ),
        Preset(
            "audioset_video",
            "AudioSet video: 32 x 224 x 224 RGB cut into 2x8x8 space-time patches (16 x 28 x 28 x 384), 3-D Fourier features.",
            config=dict(**AUDIOSET_ENCODER, num_bands=64, patch_size=(2, 8, 8)),
            input_kind="video",
            reference_input_shape=(32, 224, 224, 3),
            reference_num_classes=527,
            params=111_643_729,
            source=_PAPER + ", Sec. 4.2 (224 x 224 frames assumed)",
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
