"""Attention maps of a trained Perceiver, and which latents to look at.

The maps come from the model's own layers (the backbone's adapters -> `encoder` with
`return_attention_scores=True`; the decoders likewise), so nothing is rebuilt or retrained.
They work for every backbone: patched inputs (the maps index patches), several inputs (split
them with `attention_by_input`), classifiers and Perceiver IO models (`decoder_attention_maps`).
Plots of them are in `perceiver_tf.visualize`.
"""

from __future__ import annotations

import numpy as np


def _backbone(model):
    """The `PerceiverBackbone` of a task, or the model itself."""
    backbone = getattr(model, "backbone", model)
    if not hasattr(backbone, "byte_array") or not hasattr(backbone, "encoder"):
        raise ValueError(f"Attention maps need a Perceiver model (a backbone or a task). Received: {type(model).__name__}")
    return backbone


def cross_attention_maps(model, inputs) -> list[np.ndarray]:
    """Attention probabilities of every cross-attend of the encoder for a batch.

    Args:
        model: a `PerceiverBackbone` or any task on one (classifier, Perceiver IO).
        inputs: a batch as the model takes it: `(B, *input_shape)`, or the model's dict of
            inputs (masks included).

    Returns:
        One float32 array `(B, heads, N, M)` per cross-attend, in order. Element m of M is the
        m-th byte-array element: the m-th input element (pixel, patch, time step, point) in
        row-major order of the adapter's `element_grid`; for several inputs the inputs follow
        each other in sorted name order (`attention_by_input`).
    """
    backbone = _backbone(model)
    byte_array, input_mask = backbone.byte_array(inputs)
    _, scores = backbone.encoder(byte_array, input_mask=input_mask, return_attention_scores=True)
    return [np.asarray(s, dtype="float32") for s in scores]


def decoder_attention_maps(model, inputs) -> dict[str, np.ndarray]:
    """Attention of every decoder's queries over the latents, `{name: (B, heads, O, N)}`.

    A `PerceiverClassifier` with `decoder="query"` has one decoder, "head" (O = 1); a
    `PerceiverIO` model has one per task (O = the task's output elements).

    Raises:
        ValueError: a model without query decoders (e.g. the mean-pool classifier).
    """
    backbone = _backbone(model)
    latents = backbone(inputs, training=False)
    if hasattr(model, "decoders"):
        return {name: np.asarray(model.decoders[name](model.queries[name](latents), latents,
                                                      return_attention_scores=True)[1], dtype="float32")
                for name in model.decoders}
    if getattr(model, "decoder", None) == "query":
        return {"head": np.asarray(model.head(latents, return_attention_scores=True)[1], dtype="float32")}
    raise ValueError(
        f"{model.name} has no query decoder (a mean-pool classifier averages the latents); decoder attention "
        "exists for PerceiverClassifier(decoder='query') and PerceiverIO models."
    )


def attention_by_input(model, attention: np.ndarray) -> dict[str, np.ndarray]:
    """Split `(B, heads, N, M)` along M into `{input name: (B, heads, N, M_k)}` (sorted name order)."""
    sizes = _backbone(model).modality_sizes
    if len(sizes) == 1:
        return {next(iter(sizes)): attention}
    bounds = np.cumsum([0, *sizes.values()])
    return {name: attention[..., start:stop] for name, start, stop in zip(sizes, bounds[:-1], bounds[1:])}


def most_focused_latents(attention: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` latents with the most peaked attention (lowest entropy), most focused first.

    Args:
        attention: `(N, M)` probabilities of one example and head (or averaged over heads).
    """
    attention = np.asarray(attention, dtype="float64")
    entropy = -np.sum(attention * np.log(attention + 1e-12), axis=-1)
    return np.argsort(entropy, kind="stable")[:count]


def _standardized_maps(attention: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each map centred and scaled to unit length (so a dot product is a Pearson correlation), and which are flat."""
    centred = attention - attention.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(centred, axis=-1)
    # Flat: a spread under 1e-4 of the mean weight (e.g. uniform attention); a correlation with it is undefined.
    flat = norm / np.sqrt(attention.shape[-1]) <= 1e-4 * np.abs(attention).mean(axis=-1) + 1e-15
    return np.where(flat[:, None], 0.0, centred / np.where(flat, 1.0, norm)[:, None]), flat


def latent_groups(attention: np.ndarray, count: int | None = None, max_correlation: float = 0.9) -> list[np.ndarray]:
    """Latents grouped by alike attention maps, the most focused group first; each group starts with its shown latent.

    The rule: go through the latents from the most focused (lowest attention entropy) to the least. A
    latent whose map has a Pearson correlation above `max_correlation` with the map of a group's first
    latent joins that group (the most correlated one) as "alike"; any other latent starts a new group.
    After `count` groups, latents alike none of them are left out. Two flat maps (uniform attention)
    count as alike; a flat map and a varying one do not.

    Args:
        attention: `(N, M)` probabilities of one example (e.g. averaged over heads).
        count: the most groups to form (None: every latent is in a group).
        max_correlation: how alike two maps may be and still both be shown (1 = only exact copies skipped).

    Returns:
        int arrays of latent indices, at most `count` of them; `[g[0] for g in groups]` are distinct.
    """
    attention = np.asarray(attention, dtype="float64")
    unit, flat = _standardized_maps(attention)
    shown: list[int] = []
    groups: list[list[int]] = []
    for latent in most_focused_latents(attention, len(attention)):
        latent = int(latent)
        if shown:
            correlation = np.where(flat[shown] & flat[latent], 1.0, unit[shown] @ unit[latent])
            best = int(np.argmax(correlation))
            if correlation[best] > max_correlation:
                groups[best].append(latent)
                continue
        if count is not None and len(shown) == count:
            continue
        shown.append(latent)
        groups.append([latent])
    return [np.asarray(group) for group in groups]


def distinct_focused_latents(attention: np.ndarray, count: int, max_correlation: float = 0.9,
                             fill: bool = False) -> np.ndarray:
    """Up to `count` focused latents (lowest entropy first) whose maps differ: the first latent of each of
    `latent_groups(attention, count, max_correlation)` (see there for the rule).

    Fewer than `count` come back when fewer maps differ (the figures then show fewer panels rather than
    the same map twice); `fill=True` tops them up with the most focused remaining latents.
    """
    picked = [int(group[0]) for group in latent_groups(attention, count, max_correlation)]
    if fill and len(picked) < count:
        rest = [int(latent) for latent in most_focused_latents(attention, len(attention)) if latent not in picked]
        picked += rest[: count - len(picked)]
    return np.asarray(picked, dtype=int)


def attention_share(attention: np.ndarray, region: np.ndarray) -> np.ndarray:
    """How much of each latent's attention lands inside a region of the input.

    Args:
        attention: `(B, heads, N, M)` probabilities of one cross-attend (an element of
            `cross_attention_maps`).
        region: bool `(B, M)` (or `(B, H, W)` for images), True for the inputs of interest.

    Returns:
        float `(B, N)` in [0, 1], averaged over heads; uniform attention gives the region's
        share of the inputs, `region.mean(-1)`.
    """
    attention = np.asarray(attention)
    region = np.asarray(region, dtype=bool).reshape(len(region), -1)
    if attention.ndim != 4 or region.shape != (attention.shape[0], attention.shape[-1]):
        raise ValueError(
            f"Expected attention (B, heads, N, M) and a region (B, M). Received: attention {attention.shape}, "
            f"region {region.shape}"
        )
    return np.einsum("bhnm,bm->bn", attention, region.astype(attention.dtype)) / attention.shape[1]
