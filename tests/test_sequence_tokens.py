"""Sequence tokenisation (`SequenceAdapter(sequence_tokens=...)`) and variable-length recordings with step masks:
tokens against a NumPy reference, masked padding that changes nothing, and the options that choose them."""

import numpy as np
import pytest

import perceiver_tf as pt
from perceiver_tf.adapters import SequenceAdapter
from perceiver_tf.errors import OptionError
from perceiver_tf.training.recipes import SEQUENCE_TOKENS_ALONG_TIME, sequence_token_choices

TINY = dict(num_latents=8, latent_dim=16, num_blocks=1, num_cross_attends=1, num_self_attends_per_block=1,
            num_self_attention_heads=2, num_bands=3)


def _recordings(rng, n=2, steps=30, channels=3):
    return rng.normal(size=(n, steps, channels)).astype("float32")


def test_patch_tokens_are_consecutive_steps_of_every_channel():
    x = _recordings(np.random.default_rng(0), steps=30)  # 30 steps: padded to 32 for patches of 8
    adapter = SequenceAdapter((30, 3), sequence_tokens="patches", patch_size=8, position_encoding="none")
    tokens = np.asarray(adapter(x))
    padded = np.concatenate([x, np.zeros((2, 2, 3), "float32")], axis=1)
    np.testing.assert_array_equal(tokens, padded.reshape(2, 4, 8 * 3))


def test_channel_tokens_are_one_channels_patch_in_time_then_channel_order():
    x = _recordings(np.random.default_rng(1), steps=12)
    adapter = SequenceAdapter((12, 3), sequence_tokens="channels", patch_size=4, num_bands=2)
    tokens = np.asarray(adapter(x))
    assert tokens.shape == (2, 3 * 3, 4 + 2 * (2 * 2 + 1))  # 3 patches x 3 channels; 2-D Fourier features
    reference = x.reshape(2, 3, 4, 3).transpose(0, 1, 3, 2).reshape(2, 9, 4)  # token t * C + c: x[4t:4t+4, c]
    np.testing.assert_array_equal(tokens[..., :4], reference)
    # The position features hold (time, channel index): equal for one channel's tokens at one time only.
    positions = tokens[0, :, 4:6]
    np.testing.assert_allclose(positions[:, 0], np.repeat([-1.0, 0.0, 1.0], 3), atol=1e-6)
    np.testing.assert_allclose(positions[:, 1], np.tile([-1.0, 0.0, 1.0], 3), atol=1e-6)


def test_conv_stem_pools_patch_size_steps_into_one_token():
    adapter = SequenceAdapter((30, 3), sequence_tokens="conv", patch_size=4, preprocessor_channels=5,
                              position_encoding="none")
    tokens = np.asarray(adapter(_recordings(np.random.default_rng(2))))
    assert tokens.shape == (2, 8, 5) and (tokens >= 0).all()  # ceil(30 / 4) tokens after the ReLU


def test_fcn_stem_stacks_three_convolutions_before_the_pooling():
    adapter = SequenceAdapter((30, 3), sequence_tokens="fcn", patch_size=4, preprocessor_channels=5,
                              position_encoding="none")
    tokens = np.asarray(adapter(_recordings(np.random.default_rng(2))))
    convolutions = [layer for layer in adapter.conv_stem if "Conv1D" in type(layer).__name__]
    assert [(c.kernel_size[0], c.filters) for c in convolutions] == [(8, 64), (5, 128), (3, 5)]
    assert tokens.shape == (2, 8, 5) and (tokens >= 0).all()


@pytest.mark.parametrize("tokens, patch_size, expected", [
    ("steps", None, [True] * 5 + [False] * 3),
    ("patches", 3, [True, True, False]),  # steps 0-2, 3-5 (3-4 real), 6-7 + padding
    ("conv", 4, [True, True]),
    ("fcn", 3, [True, True, False]),
    ("channels", 3, [True, True, True, True, False, False]),  # 3 patches x 2 channels
])
def test_a_token_is_kept_when_any_of_its_steps_is_real(tokens, patch_size, expected):
    adapter = SequenceAdapter((8, 2), sequence_tokens=tokens, patch_size=patch_size)
    step_mask = np.array([[True] * 5 + [False] * 3])
    assert np.asarray(adapter.element_mask(step_mask)).tolist() == [expected]


@pytest.mark.parametrize("tokens, patch_size", [("steps", None), ("patches", 4), ("conv", 4), ("channels", 4),
                                               ("fcn", 4)])
def test_logits_do_not_depend_on_what_the_padding_holds(tokens, patch_size):
    """A 17-step recording in a 30-step model: zeros, garbage or the rest of a longer recording after it
    give the same logits when masked; unmasked, the padding changes them."""
    rng = np.random.default_rng(3)
    model = pt.build_classifier("tiny", (30, 3), 3, input_kind="sequence", use_input_mask=True,
                                sequence_tokens=tokens, patch_size=patch_size,
                                head_kernel_initializer="glorot_uniform", **TINY)
    longer = _recordings(rng, n=1)
    mask = np.arange(30)[None] < 17
    zeros = np.where(mask[..., None], longer, 0.0).astype("float32")
    garbage = np.where(mask[..., None], longer, rng.normal(0, 100, longer.shape)).astype("float32")
    batch = np.concatenate([zeros, garbage, longer, garbage])
    masks = np.concatenate([mask, mask, mask, np.ones_like(mask)])  # the last row: garbage read as data
    logits = np.asarray(model({"inputs": batch, "input_mask": masks}))  # one call: eager JAX is slow per call
    np.testing.assert_allclose(logits[1:3], logits[[0, 0]], atol=1e-5)
    assert np.abs(logits[3] - logits[0]).max() > 1e-3


def test_sequence_tokens_round_trip_through_the_model_config():
    model = pt.build_classifier("tiny", (30, 3), 3, input_kind="sequence", use_input_mask=True,
                                sequence_tokens="conv", patch_size=4, preprocessor_channels=6, **TINY)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    adapter = clone.backbone.adapters["inputs"]
    assert (adapter.sequence_tokens, adapter.patch_size, adapter.preprocessor_channels) == ("conv", 4, 6)
    assert clone.backbone.input["input_mask"].shape == (None, 30)  # per time step, not per token


@pytest.mark.parametrize("kwargs, message", [
    (dict(sequence_tokens="tokens"), "Unknown sequence_tokens 'tokens'"),
    (dict(sequence_tokens="patches"), "needs `patch_size`"),
    (dict(sequence_tokens="steps", patch_size=4), "pass sequence_tokens='patches'"),
])
def test_sequence_token_mistakes_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SequenceAdapter((30, 3), **kwargs)


def test_the_recipe_chooses_channel_tokens_of_a_sixteenth_of_the_steps():
    tokens, patch = sequence_token_choices(130)
    assert (tokens.flag, tokens.value, patch.flag, patch.value) == ("--sequence-tokens", "channels",
                                                                    "--sequence-patch-size", 8)
    assert SEQUENCE_TOKENS_ALONG_TIME == 16
    assert [c.value for c in sequence_token_choices(10)] == ["channels", 1]
    assert sequence_token_choices(130, tokens="steps") == []  # given: nothing left to choose
    assert [(c.flag, c.value) for c in sequence_token_choices(64, tokens="conv")] == [("--sequence-patch-size", 4)]


def test_sequence_options_that_do_not_fit_are_option_errors(tmp_path):
    with pytest.raises(OptionError, match="--sequence-patch-size 4.*makes one token per step|"
                                          "sequence_patch_size=4.*makes one token per step"):
        pt.train((np.zeros((4, 8, 2)), np.arange(4) % 2), tmp_path / "run", modality="sensors",
                 sequence_tokens="steps", sequence_patch_size=4)
    with pytest.raises(OptionError, match="sequence_tokens tokenises sensor recordings, but this data "
                                          "is image; remove it"):
        pt.train((np.zeros((4, 8, 8), "uint8"), np.arange(4) % 2), tmp_path / "run2", sequence_tokens="patches")
    with pytest.raises(OptionError, match="use_input_mask=False: sensor recordings come with their step masks"):
        pt.train((np.zeros((4, 8, 2)), np.arange(4) % 2), tmp_path / "run3", modality="sensors",
                 set={"use_input_mask": False})


def test_sensor_processor_masks_the_padding_and_describes_the_mask():
    import tensorflow as tf

    from perceiver_tf.data.augment import mix_masked_batch
    from perceiver_tf.data.model_inputs import describe_inputs
    from perceiver_tf.data.sensors_processor import SensorProcessor

    processor = SensorProcessor.from_config(SensorProcessor(6, 2, mask_padding=True).config)
    short = processor.prepare(tf.ones([4, 2]), False, tf.zeros([2], tf.int32))
    assert short["input_mask"].numpy().tolist() == [True] * 4 + [False] * 2 and not short["inputs"][4:].numpy().any()
    cropped = processor.prepare(tf.ones([9, 2]), True, tf.constant([1, 2]))
    assert cropped["input_mask"].numpy().all() and cropped["inputs"].shape == (6, 2)
    assert describe_inputs(processor)["input_mask"]["shape"] == [6]
    assert not isinstance(SensorProcessor(6, 2).prepare(tf.ones([4, 2]), False, tf.zeros([2], tf.int32)), dict)
    # MixUp blends the reversed batch in: a step is real where either recording's is.
    masks = tf.constant([[True, True, False], [True, False, False]])
    mixed, _ = mix_masked_batch({"inputs": tf.ones([2, 3, 1]), "input_mask": masks}, tf.eye(2), tf.constant([0, 1]),
                                0.4)
    assert mixed["input_mask"].numpy().tolist() == [[True, True, False]] * 2


def test_window_warp_stretches_a_window_of_the_recording_back_to_its_length():
    import tensorflow as tf

    from perceiver_tf.data.sensors_processor import warp_window

    ramp = tf.constant(np.stack([np.arange(40.0), -np.arange(40.0)], axis=1), tf.float32)  # (40, 2)
    assert warp_window(ramp, 0.0, tf.constant([1, 2])) is ramp
    for seed in range(5):
        warped = warp_window(ramp, 0.3, tf.constant([seed, 7])).numpy()
        steps = np.diff(warped[:, 0])[1:-1]  # 28-40 steps of a unit ramp stretched to 40: slope 0.7-1 (inside)
        assert warped.shape == (40, 2) and np.allclose(warped[:, 1], -warped[:, 0])
        assert np.allclose(steps, steps.mean(), atol=1e-4) and 0.65 <= steps.mean() <= 1.0
        assert 0 <= warped[0, 0] and warped[-1, 0] <= 39
    seed = tf.constant([3, 7])
    np.testing.assert_array_equal(warp_window(ramp, 0.3, seed), warp_window(ramp, 0.3, seed))


def test_sensor_augmentation_changes_training_examples_only():
    import tensorflow as tf

    from perceiver_tf.data.sensors_processor import SensorProcessor

    series = tf.constant(np.random.default_rng(4).normal(size=(20, 3)), tf.float32)
    plain = SensorProcessor(24, 3, mask_padding=True)
    augmented = SensorProcessor.from_config(plain.config, window_warp=0.2, gain_db=2.0, jitter=0.03)
    assert augmented.config == plain.config  # augmentation is not preprocessing: not saved with the model
    seed = tf.constant([5, 6])
    evaluated, trained = augmented.prepare(series, False, seed), augmented.prepare(series, True, seed)
    np.testing.assert_array_equal(evaluated["inputs"], plain.prepare(series, False, seed)["inputs"])
    assert trained["input_mask"].numpy().tolist() == evaluated["input_mask"].numpy().tolist()  # 20 real steps
    assert not np.allclose(trained["inputs"], evaluated["inputs"]) and not trained["inputs"][20:].numpy().any()
    gain = SensorProcessor(20, 3, gain_db=6.0).augment(series, tf.unstack(tf.constant([[1, 2], [3, 4], [5, 6]])))
    ratio = (gain / series).numpy()  # one gain for every step and channel, within 6 dB
    assert np.allclose(ratio, ratio.flat[0], rtol=1e-5) and 10 ** (-6 / 20) <= ratio.flat[0] <= 10 ** (6 / 20)
    with pytest.raises(ValueError, match="`window_warp` must be in"):
        SensorProcessor(20, 3, window_warp=1.0)


@pytest.mark.e2e
@pytest.mark.tensorflow_only  # the CLI's data pipelines are tf.data
def test_cli_sequence_flags_shape_the_model_and_the_recipe_fills_what_is_left(tmp_path, capsys):
    import json

    from perceiver_tf.cli import main
    from perceiver_tf.testing.synthetic import write_frequency_folder
    from perceiver_tf.workflows.model_files import load_trained_model

    write_frequency_folder(str(tmp_path / "data"), per_class=4, steps=(40, 40))
    small = ["--set", "num_latents=8", "--set", "latent_dim=16", "--set", "num_blocks=1",
             "--set", "num_cross_attends=1", "--set", "num_bands=2"]
    for flags, tokens, patch in ((["--sequence-tokens", "conv"], "conv", 2), ([], "channels", 2),
                                 (["--sequence-tokens", "steps"], "steps", None)):
        out = tmp_path / f"out_{tokens}"
        assert main(["train", "--data", str(tmp_path / "data"), "--output-dir", str(out), "--epochs", "1",
                     "--verbose", "0", "--no-tensorboard", *small, *flags]) == 0
        recipe = json.loads((out / "metrics.json").read_text())["recipe"]
        assert (recipe["flags"]["--sequence-tokens"], recipe["flags"]["--sequence-patch-size"]) == (tokens, patch)
        assert ("--sequence-tokens" in recipe["chosen"]) is not flags
        model, metadata = load_trained_model(str(out / "model.keras"))
        adapter = model.backbone.adapters["inputs"]
        assert (adapter.sequence_tokens, adapter.patch_size) == (tokens, patch) and model.backbone.use_input_mask
        assert metadata["preprocessing"]["mask_padding"] is True
    assert "--sequence-patch-size 2 (40 steps per example in about 16 tokens)" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.tensorflow_only  # train's data pipelines are tf.data
def test_default_tokens_learn_frequency_classes_that_per_step_tokens_cannot(tmp_path):
    """Issue 33's noisy sinusoids (1 / 2.5 / 4 Hz, 6 channels, 90-130 steps, 72 training recordings): the
    recipe's defaults reach >= 0.95 validation accuracy; per-step tokens stay near chance (measured 0.28-0.44;
    `python -m benchmarks.bench_sequence_tokens` has both seeds and the test-set scores)."""
    from perceiver_tf.testing.synthetic import write_frequency_folder

    write_frequency_folder(str(tmp_path / "data"), per_class=30, seed=0)
    scores = {tokens: pt.train(str(tmp_path / "data"), tmp_path / tokens, verbose=0, no_tensorboard=True,
                               **options).metrics["val_accuracy"]
              for tokens, options in (("defaults", {}), ("steps", {"sequence_tokens": "steps"}))}
    assert scores["defaults"] >= 0.95 and scores["steps"] <= 0.6, scores
