"""Independent NumPy implementations of the Perceiver's blocks, used as test oracles."""

import math

import numpy as np


def layer_norm(x, gamma, beta, epsilon=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


def gelu(x):
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def dense(x, layer):
    kernel, bias = (np.asarray(w) for w in layer.get_weights())
    return x @ kernel + bias


def attention(query, value, layer, mask=None):
    """Multi-head attention with the weights of a `PerceiverAttention` layer."""
    heads = layer.num_heads
    q, k, v = dense(query, layer.query_dense), dense(value, layer.key_dense), dense(value, layer.value_dense)

    def split(x):
        b, t, c = x.shape
        return x.reshape(b, t, heads, c // heads).transpose(0, 2, 1, 3)

    q, k, v = split(q), split(k), split(v)
    logits = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    if mask is not None:
        logits = np.where(mask[:, None, None, :], logits, -np.inf)
    logits = logits - logits.max(-1, keepdims=True)
    probs = np.exp(logits)
    probs = probs / probs.sum(-1, keepdims=True)
    out = (probs @ v).transpose(0, 2, 1, 3)
    out = out.reshape(out.shape[0], out.shape[1], -1)
    return dense(out, layer.output_dense), probs


def mlp(x, layer):
    return dense(gelu(dense(x, layer.hidden_dense)), layer.output_dense)


def cross_attention_block(latents, inputs, block):
    """`x = z + Attn(LN(z), LN(x)); x + MLP(LN(x))` with a `CrossAttention` layer's weights."""
    ln = lambda x, norm: layer_norm(x, *(np.asarray(w) for w in norm.get_weights()))  # noqa: E731
    attended, _ = attention(ln(latents, block.latent_norm), ln(inputs, block.input_norm), block.attention)
    x = latents + attended
    return x + mlp(ln(x, block.mlp_norm), block.mlp)


def fourier_features(positions, num_bands, max_resolution, spacing="linear", concat_pos=True, sine_only=False):
    """Written from the paper's equations, independently of the library code."""
    d = positions.shape[-1]
    feats = []
    for axis in range(d):
        top = max_resolution[axis] / 2.0
        if spacing == "linear":
            freqs = np.array([1.0 + (top - 1.0) * k / (num_bands - 1) for k in range(num_bands)])
        else:
            freqs = np.exp(np.linspace(0.0, np.log(top), num_bands))
        feats.append(positions[..., axis : axis + 1] * freqs)
    scaled = np.pi * np.concatenate(feats, axis=-1)
    parts = [np.sin(scaled)] if sine_only else [np.sin(scaled), np.cos(scaled)]
    if concat_pos:
        parts = [positions] + parts
    return np.concatenate(parts, axis=-1)
