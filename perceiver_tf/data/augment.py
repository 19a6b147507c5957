"""Batch-level MixUp and CutMix on one-hot labels, with stateless (seeded) randomness."""

from __future__ import annotations

import tensorflow as tf


def _beta(seed: tf.Tensor, alpha: float) -> tf.Tensor:
    """One Beta(alpha, alpha) sample from two stateless Gamma draws."""
    a = tf.random.stateless_gamma([], seed, alpha)
    b = tf.random.stateless_gamma([], seed + 1, alpha)
    return a / (a + b)


def mixup(inputs: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor, alpha: float) -> tuple[tf.Tensor, tf.Tensor]:
    """MixUp (Zhang et al. 2018): blend each example and label with the batch reversed."""
    lam = _beta(seed, alpha)
    mixed = lam * inputs + (1.0 - lam) * tf.reverse(inputs, [0])
    return mixed, lam * labels + (1.0 - lam) * tf.reverse(labels, [0])


def cutmix(images: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor, alpha: float) -> tuple[tf.Tensor, tf.Tensor]:
    """CutMix (Yun et al. 2019) on `(B, H, W, C)`: paste a box from the reversed batch; labels by area."""
    lam = _beta(seed, alpha)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    h_f, w_f = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    cut = tf.sqrt(1.0 - lam)
    box_h, box_w = tf.cast(cut * h_f, tf.int32), tf.cast(cut * w_f, tf.int32)
    centre = tf.random.stateless_uniform([2], seed + 2, 0.0, 1.0)
    cy, cx = tf.cast(centre[0] * h_f, tf.int32), tf.cast(centre[1] * w_f, tf.int32)
    y0, y1 = tf.maximum(cy - box_h // 2, 0), tf.minimum(cy + box_h // 2, height)
    x0, x1 = tf.maximum(cx - box_w // 2, 0), tf.minimum(cx + box_w // 2, width)
    rows, cols = tf.range(height)[:, None], tf.range(width)[None, :]
    inside = (rows >= y0) & (rows < y1) & (cols >= x0) & (cols < x1)
    mixed = tf.where(inside[None, :, :, None], tf.reverse(images, [0]), images)
    kept = 1.0 - tf.reduce_mean(tf.cast(inside, tf.float32))
    return mixed, kept * labels + (1.0 - kept) * tf.reverse(labels, [0])


def mix_batch(inputs, labels, seed, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0):
    """MixUp or CutMix (chosen per batch with equal odds when both alphas are > 0)."""
    if mixup_alpha and cutmix_alpha:
        use_cutmix = tf.random.stateless_uniform([], seed + 3) < 0.5
        return tf.cond(
            use_cutmix,
            lambda: cutmix(inputs, labels, seed, cutmix_alpha),
            lambda: mixup(inputs, labels, seed, mixup_alpha),
        )
    if cutmix_alpha:
        return cutmix(inputs, labels, seed, cutmix_alpha)
    return mixup(inputs, labels, seed, mixup_alpha)


def mix_masked_batch(inputs: dict[str, tf.Tensor], labels: tf.Tensor, seed: tf.Tensor,
                     mixup_alpha: float) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """MixUp of masked recordings `{"inputs": (B, T, C), "input_mask": bool (B, T)}`: padded steps hold
    zeros, so a blended step is real where either example's step is."""
    mixed, labels = mixup(inputs["inputs"], labels, seed, mixup_alpha)
    return {"inputs": mixed, "input_mask": inputs["input_mask"] | tf.reverse(inputs["input_mask"], [0])}, labels
