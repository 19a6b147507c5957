"""Multimodal (audio + video) Perceiver: one byte array, modality embeddings, whole-modality masks."""

import keras
import numpy as np
import pytest

from perceiver_tf import PRESETS, PerceiverBackbone, PerceiverClassifier, build_audioset_av

TINY_ENCODER = dict(
    num_latents=16, latent_dim=32, num_blocks=1, num_cross_attends=1, num_self_attends_per_block=1,
    num_self_attention_heads=2, cross_attend_widening_factor=2,
)
MODALITIES = {
    "video": dict(input_shape=(2, 4, 4, 1), input_kind="video", patch_size=(1, 2, 2), num_bands=4),
    "audio": dict(input_shape=(32, 1), input_kind="audio", patch_size=4, num_bands=6),
}


def tiny_model(**kwargs):
    backbone = PerceiverBackbone(adapters=MODALITIES, use_modality_mask=True, **TINY_ENCODER)
    return PerceiverClassifier(backbone, 4, **kwargs)


def test_byte_array_layout():
    backbone = tiny_model().backbone
    assert backbone.modality_sizes == {"audio": 8, "video": 8}  # sorted names; 32/4 and 2*2*2
    audio_width = 4 + (2 * 6 + 1)  # 4-sample patches + 1-D Fourier features
    video_width = 4 + 3 * (2 * 4 + 1)  # 1x2x2 patches + 3-D Fourier features
    width = max(audio_width, video_width) + 2
    assert backbone.get_layer("audio_adapter").output.shape == (None, 8, audio_width)
    assert backbone.get_layer("video_adapter").output.shape == (None, 8, video_width)
    assert backbone.get_layer("byte_array").output.shape == (None, 16, width)
    assert backbone.get_layer("audio_padding").embedding.shape == (width - audio_width,)
    assert backbone.get_layer("video_padding").embedding.shape == (width - video_width,)


def test_masked_modality_is_ignored_and_serialization_round_trips(rng, tmp_path):
    model = tiny_model(head_kernel_initializer="glorot_uniform")
    audio = rng.normal(size=(2, 32, 1)).astype("float32")
    video = rng.normal(size=(2, 2, 4, 4, 1)).astype("float32")
    audio_only = np.array([[True, False]] * 2)  # columns: audio, video (sorted)
    out = model({"audio": audio, "video": video, "modality_mask": audio_only})
    other_video = model({"audio": audio, "video": 5 * video, "modality_mask": audio_only})
    np.testing.assert_allclose(out, other_video, atol=1e-5)
    both = model({"audio": audio, "video": video, "modality_mask": np.ones((2, 2), bool)})
    assert not np.allclose(out, both, atol=1e-4)
    path = tmp_path / "av.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(reloaded({"audio": audio, "video": video, "modality_mask": np.ones((2, 2), bool)}), both, atol=1e-5)


def test_invalid_modalities_are_rejected():
    with pytest.raises(ValueError, match="reserved"):
        PerceiverBackbone(adapters={"modality_mask": MODALITIES["audio"], "video": MODALITIES["video"]})
    with pytest.raises(ValueError, match="input_kind"):
        PerceiverBackbone(adapters={"audio": {"input_shape": (8, 1)}})


def audio_video(rng, n):
    """Class = 2 * audio bit + video bit: each modality carries half of the label."""
    y = rng.integers(0, 4, n)
    a, v = np.where(y // 2, 1.0, -1.0), np.where(y % 2, 1.0, -1.0)
    audio = 0.8 * a[:, None, None] + rng.normal(size=(n, 32, 1))
    video = 0.8 * v[:, None, None, None, None] + rng.normal(size=(n, 2, 4, 4, 1))
    return audio.astype("float32"), video.astype("float32"), y


def test_model_uses_both_modalities(rng):
    audio, video, y = audio_video(rng, 256)
    model = tiny_model()
    model.compile(keras.optimizers.RMSprop(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit({"audio": audio, "video": video, "modality_mask": np.ones((256, 2), bool)}, y, batch_size=32, epochs=5, verbose=0)

    audio, video, y = audio_video(rng, 256)
    accuracy = {}
    for name, keep in {"both": [True, True], "audio only": [True, False], "video only": [False, True]}.items():
        mask = np.tile(np.array(keep), (len(y), 1))
        logits = model({"audio": audio, "video": video, "modality_mask": mask}, training=False)
        accuracy[name] = float(np.mean(np.asarray(logits).argmax(-1) == y))
    print("accuracy", accuracy)
    assert accuracy["both"] > 0.8  # chance 1/4
    # One modality alone can decide at most one of the two bits: <= 50% plus noise.
    assert accuracy["audio only"] < accuracy["both"] - 0.25
    assert accuracy["video only"] < accuracy["both"] - 0.25


@pytest.mark.slow
def test_audioset_av_param_count():
    model = build_audioset_av()
    assert model.backbone.modality_sizes == {"audio": 480, "video": 16 * 28 * 28}
    assert model.count_params() == PRESETS["audioset_av"].params == 111_664_811
