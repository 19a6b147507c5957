"""PerceiverAttention and the attention blocks against NumPy references."""

import numpy as np
import pytest
from numpy_reference import attention, cross_attention_block

from perceiver_tf.layers import CrossAttention, PerceiverAttention


@pytest.mark.parametrize("num_heads", [1, 4])
def test_attention_matches_numpy_reference(rng, num_heads):
    layer = PerceiverAttention(num_heads=num_heads, qk_channels=16, v_channels=8, output_channels=12)
    query = rng.normal(size=(2, 5, 12)).astype("float32")
    value = rng.normal(size=(2, 7, 6)).astype("float32")
    out, probs = layer(query, value, return_attention_scores=True)
    ref_out, ref_probs = attention(query, value, layer)
    assert out.shape == (2, 5, 12) and probs.shape == (2, num_heads, 5, 7)
    np.testing.assert_allclose(probs, ref_probs, atol=1e-6)
    np.testing.assert_allclose(out, ref_out, atol=1e-5)


def test_attention_scale_is_inverse_sqrt_head_dim(rng):
    """Doubling the head dim via qk_channels must not change the reference-matching scale."""
    layer = PerceiverAttention(num_heads=2, qk_channels=32)
    query = rng.normal(size=(1, 3, 8)).astype("float32")
    _, probs = layer(query, query, return_attention_scores=True)
    q = query @ layer.query_dense.get_weights()[0] + layer.query_dense.get_weights()[1]
    k = query @ layer.key_dense.get_weights()[0] + layer.key_dense.get_weights()[1]
    logits = q[0, :, :16] @ k[0, :, :16].T / 4.0  # head 0, d_head = 16
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(probs[0, 0], expected / expected.sum(-1, keepdims=True), atol=1e-6)


def test_attention_mask_ignores_padding_and_zeroes_fully_masked_rows(rng):
    layer = PerceiverAttention(num_heads=2, qk_channels=8)
    query = rng.normal(size=(2, 3, 8)).astype("float32")
    value = rng.normal(size=(2, 6, 4)).astype("float32")
    mask = np.array([[True] * 4 + [False] * 2, [False] * 6])
    out, probs = layer(query, value, value_mask=mask, return_attention_scores=True)
    ref_out, _ = attention(query[:1], value[:1, :4], layer)
    np.testing.assert_allclose(out[:1], ref_out, atol=1e-5)
    assert np.all(np.asarray(probs)[0, :, :, 4:] == 0)
    # Example 2 has no valid key: zero attention, so the output is only the output bias.
    np.testing.assert_allclose(probs[1], 0.0)
    np.testing.assert_allclose(out[1], np.broadcast_to(layer.output_dense.get_weights()[1], (3, 8)), atol=1e-6)
    assert np.isfinite(np.asarray(out)).all()


def test_heads_must_divide_channels():
    layer = PerceiverAttention(num_heads=3, qk_channels=16)
    with pytest.raises(ValueError, match="divisible by `num_heads`"):
        layer(np.zeros((1, 2, 4), "float32"), np.zeros((1, 2, 4), "float32"))


def test_cross_attention_block_matches_numpy_reference(rng):
    """Pre-LN on both sides, query residual, then MLP residual; q/k width = input channels."""
    block = CrossAttention()
    latents = rng.normal(size=(2, 4, 16)).astype("float32")
    inputs = rng.normal(size=(2, 9, 5)).astype("float32")
    out = block(latents, inputs)
    assert block.attention.query_dense.get_weights()[0].shape == (16, 5)
    np.testing.assert_allclose(out, cross_attention_block(latents, inputs, block), atol=1e-5)
