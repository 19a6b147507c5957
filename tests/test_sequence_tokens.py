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


@pytest.mark.parametrize("tokens, patch_size, expected", [
    ("steps", None, [True] * 5 + [False] * 3),
    ("patches", 3, [True, True, False]),  # steps 0-2, 3-5 (3-4 real), 6-7 + padding
    ("conv", 4, [True, True]),
    ("channels", 3, [True, True, True, True, False, False]),  # 3 patches x 2 channels
])
def test_a_token_is_kept_when_any_of_its_steps_is_real(tokens, patch_size, expected):
    adapter = SequenceAdapter((8, 2), sequence_tokens=tokens, patch_size=patch_size)
    step_mask = np.array([[True] * 5 + [False] * 3])
    assert np.asarray(adapter.element_mask(step_mask)).tolist() == [expected]


@pytest.mark.parametrize("tokens, patch_size", [("steps", None), ("patches", 4), ("conv", 4), ("channels", 4)])
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
    logits = [np.asarray(model({"inputs": x, "input_mask": mask})) for x in (zeros, garbage, longer)]
    np.testing.assert_allclose(logits[1], logits[0], atol=1e-5)
    np.testing.assert_allclose(logits[2], logits[0], atol=1e-5)
    unmasked = np.asarray(model({"inputs": garbage, "input_mask": np.ones_like(mask)}))
    assert np.abs(unmasked - logits[0]).max() > 1e-3


def test_a_recording_gives_the_same_logits_alone_and_in_a_batch_padded_to_a_longer_one():
    """`pad_batch` pads to the batch's longest recording; the model's own length pads the rest: how much
    padding follows a recording (what else is in the batch) leaves its logits alone."""
    from perceiver_tf.data.sensors import pad_batch

    rng = np.random.default_rng(4)
    model = pt.build_classifier("tiny", (32, 2), 3, input_kind="sequence", use_input_mask=True,
                                sequence_tokens="channels", patch_size=4,
                                head_kernel_initializer="glorot_uniform", **TINY)
    short, long = rng.normal(size=(11, 2)).astype("float32"), rng.normal(size=(29, 2)).astype("float32")
    alone = pad_batch([short], 32)
    together = pad_batch([short, long], 32)
    logits_alone = np.asarray(model({"inputs": alone[0], "input_mask": alone[1]}))
    logits_together = np.asarray(model({"inputs": together[0], "input_mask": together[1]}))
    np.testing.assert_allclose(logits_together[:1], logits_alone, atol=1e-5)


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
