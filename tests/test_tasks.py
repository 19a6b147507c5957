"""Every task on the backbone, every modality: the shared harness (tests/harness.py) on tiny models."""

import numpy as np
import pytest
from harness import assert_sublayer_dtypes, run_task_test

import perceiver_tf as pt

TINY = dict(num_latents=8, latent_dim=16, num_blocks=2, num_cross_attends=2, num_self_attends_per_block=1,
            num_self_attention_heads=2)
HEAD = dict(head_kernel_initializer="glorot_uniform")  # a zero head would make every output equal


def _classifier(shape, classes, kind=None, **kwargs):
    return lambda dtype=None: pt.build_classifier("tiny", shape, classes, input_kind=kind, dtype=dtype,
                                                  **{**TINY, **HEAD, **kwargs})


def _audio_video(dtype=None):
    backbone = pt.PerceiverBackbone(
        adapters={"video": dict(input_kind="video", input_shape=(2, 4, 4, 1), patch_size=(1, 2, 2), num_bands=4),
                  "audio": dict(input_kind="audio", input_shape=(32, 1), patch_size=4, num_bands=6)},
        use_modality_mask=True, use_input_mask=True, dtype=dtype, **TINY)
    return pt.PerceiverClassifier(backbone, 4, metadata={"note": "audio + video"}, **HEAD)


def _perceiver_io(dtype=None):
    backbone = pt.PerceiverBackbone((8, 8, 1), num_bands=4, dtype=dtype, **TINY)
    return pt.PerceiverIO(backbone, tasks={
        "pixels": {"index_dims": (8, 8), "num_bands": 4, "output_channels": 2, "activation": "sigmoid"},
        "label": {"index_dims": (), "learned_channels": 16, "output_channels": 10, "use_query_residual": True},
    })


def _masked_points(rng, n=3, points=20):
    mask = np.arange(points)[None, :] < rng.integers(points // 2, points + 1, (n, 1))
    return {"inputs": rng.uniform(-1, 1, (n, points, 3)).astype("float32"), "input_mask": mask}


def _masked_recordings(rng, n=3, steps=30, channels=3):
    """Recordings of 10-30 steps padded to 30 with garbage (large values), and their step masks."""
    mask = np.arange(steps)[None, :] < rng.integers(10, steps + 1, (n, 1))
    values = np.where(mask[..., None], rng.normal(size=(n, steps, channels)), rng.normal(0, 100, (n, steps, channels)))
    return {"inputs": values.astype("float32"), "input_mask": mask}


def _audio_video_inputs(rng, n=3):
    return {"audio": rng.normal(size=(n, 32, 1)).astype("float32"),
            "video": rng.normal(size=(n, 2, 4, 4, 1)).astype("float32"),
            "audio_mask": np.ones((n, 8), bool), "video_mask": rng.uniform(size=(n, 8)) < 0.8,
            "modality_mask": np.array([[True, True], [True, False], [False, True]])[:n]}


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype("float32")


#: name -> (build(dtype=None), make a batch from an rng).
CASES = {
    "image_classifier": (_classifier((6, 5, 2), 3, num_bands=3), _normal(3, 6, 5, 2)),
    "conv_stem_image_classifier": (_classifier((16, 16, 3), 3, preprocessor="conv", preprocessor_channels=8,
                                               num_bands=3), _normal(3, 16, 16, 3)),
    "learned_position_image_classifier": (_classifier((6, 6, 1), 3, position_encoding="learned",
                                                      learned_position_channels=5), _normal(3, 6, 6, 1)),
    "raw_audio_multi_label_classifier": (_classifier((64, 1), 5, "audio", patch_size=8, num_bands=4,
                                                     multi_label=True), _normal(3, 64, 1)),
    "masked_points_classifier": (_classifier((None, 3), 3, "points", use_input_mask=True, num_bands=64,
                                             max_resolution=1120), _masked_points),
    "sensor_query_decoder_classifier": (_classifier((16, 6), 4, "sequence", decoder="query", num_bands=4),
                                        _normal(3, 16, 6)),
    "sensor_channel_tokens_masked_classifier": (_classifier((30, 3), 3, "sequence", sequence_tokens="channels",
                                                            patch_size=4, use_input_mask=True, num_bands=3),
                                                _masked_recordings),
    "sensor_conv_tokens_classifier": (_classifier((30, 3), 3, "sequence", sequence_tokens="conv", patch_size=4,
                                                  preprocessor_channels=8, num_bands=3), _normal(3, 30, 3)),
    "video_patch_classifier": (_classifier((4, 8, 8, 1), 2, "video", patch_size=(2, 4, 4), num_bands=3),
                               _normal(3, 4, 8, 8, 1)),
    "array_classifier": (_classifier((10, 4), 3, "array"), _normal(3, 10, 4)),
    "audio_video_classifier": (_audio_video, _audio_video_inputs),
    "perceiver_io_multi_task": (_perceiver_io, _normal(3, 8, 8, 1)),
    "autoencoder": (lambda dtype=None: pt.build_autoencoder((8, 8, 1), num_bands=4, output_activation="sigmoid",
                                                            dtype=dtype, **TINY), _normal(3, 8, 8, 1)),
}

#: name -> (weight variables, parameters) of CASES' float32 model: a change to any layer's weights shows here.
WEIGHT_COUNTS = {
    "image_classifier": (55, 5331), "conv_stem_image_classifier": (60, 7895),
    "learned_position_image_classifier": (56, 3891), "raw_audio_multi_label_classifier": (55, 5571),
    "masked_points_classifier": (55, 640383), "sensor_query_decoder_classifier": (74, 6894),
    "sensor_channel_tokens_masked_classifier": (55, 5751), "sensor_conv_tokens_classifier": (58, 5317),
    "video_patch_classifier": (55, 18264), "array_classifier": (55, 3483), "audio_video_classifier": (57, 9956),
    "perceiver_io_multi_task": (94, 9816), "autoencoder": (73, 7883),
}
#: Layers that compute in float32 under any policy by design: Perceiver IO's output activations and reshapes
#: (perceiver_io.py), which give the model its float32 outputs.
FLOAT32_OUTPUT_LAYERS = {"perceiver_io_multi_task": {"pixels_activation", "pixels", "label"},
                         "autoencoder": {"reconstruction_activation", "reconstruction"}}


@pytest.mark.parametrize("name", list(CASES))
def test_task_harness(name, tmp_path):
    build, make_inputs = CASES[name]
    run_task_test(build, make_inputs(np.random.default_rng(0)), tmp_path, weight_counts=WEIGHT_COUNTS[name])


@pytest.mark.parametrize("name", list(CASES))
def test_every_task_layer_follows_the_mixed_policy(name):
    """A functional `keras.Model` ignores its `dtype`, so the backbone and the task set their policy
    themselves: the task layers built with `backbone.dtype_policy` (heads, decoders, output queries,
    the task model itself) compute in bfloat16 under "mixed_bfloat16", as the backbone's layers do."""
    build, make_inputs = CASES[name]
    model = build(dtype="mixed_bfloat16")
    model(make_inputs(np.random.default_rng(0)))
    assert_sublayer_dtypes(model, "mixed_bfloat16", FLOAT32_OUTPUT_LAYERS.get(name, ()))


def test_the_mixed_precision_points_bug_is_fixed():
    """64 bands up to frequency 560: float16 coordinates (the old autocast) gave random phases."""
    points = np.random.default_rng(0).uniform(-1, 1, (2, 50, 3)).astype("float32")
    features = {}
    for policy in ("float32", "mixed_float16", "mixed_bfloat16"):
        backbone = pt.PerceiverBackbone((50, 3), "points", num_bands=64, max_resolution=1120, dtype=policy, **TINY)
        features[policy] = np.asarray(backbone.byte_array(points)[0], "float32")
    assert np.abs(features["mixed_float16"] - features["float32"]).max() < 2e-3
    assert np.abs(features["mixed_bfloat16"] - features["float32"]).max() < 1e-2
    # What the bug did: sin/cos of the coordinates rounded to float16 first.
    rounded = points.astype("float16").astype("float32")
    wrong = np.asarray(pt.PerceiverBackbone((50, 3), "points", num_bands=64, max_resolution=1120,
                                            **TINY).byte_array(rounded)[0])
    assert np.abs(wrong - features["float32"]).max() > 0.1
